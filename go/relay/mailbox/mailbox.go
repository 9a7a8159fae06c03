// Package mailbox is the Go relay's side of /hearth/mailbox/1.0.0: mail held
// on disk for peers that are away. Same wire and same database schema as the
// JavaScript relay's mailbox (js/relay/mailbox, js/p2p/mailbox-frames.js).
//
// A sender deposits a transaction sealed to the recipient; the relay keeps it
// on disk (store.go) and pushes it when the recipient holds its mailbox
// stream (session.go); the recipient's ack deletes it and tells the sender.
// The relay learns sender, recipient, sizes and times; it never parses the
// sealed payload.
package mailbox

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/sirupsen/logrus"
)

// Options mirror DEFAULT_MAILBOX_OPTIONS in js/relay/mailbox/index.js.
type Options struct {
	// Dir holds the database (created if missing; one relay per directory).
	Dir string
	// TTL is how long mail waits unread before it is dropped (and its sender told).
	TTL                  time.Duration
	MaxMailsPerRecipient int
	// MaxBytesPerRecipient is sealed bytes held for one recipient.
	MaxBytesPerRecipient int64
	// MaxDepositBytes is sealed bytes of one deposit, at most 4 MiB (the frame limit).
	MaxDepositBytes int64
	// DepositsPerSecond is a sender's sustained deposit rate, DepositBurst what it may save up.
	DepositsPerSecond float64
	DepositBurst      float64
	// MaxStoreBytes is sealed bytes of all mail together.
	MaxStoreBytes int64
	// MaxNoticesPerSender bounds the notices waiting for one absent sender; the oldest go first.
	MaxNoticesPerSender int
	// SweepInterval is the time between sweeps for expired mail and notices (one also runs at Start).
	SweepInterval time.Duration

	// now is the clock (tests set it); time.Now when nil.
	now func() time.Time
}

// DefaultOptions are the JavaScript relay's defaults, in dir.
func DefaultOptions(dir string) Options {
	return Options{
		Dir: dir, TTL: 14 * 24 * time.Hour, MaxMailsPerRecipient: 1000, MaxBytesPerRecipient: 64 << 20,
		MaxDepositBytes: 2 << 20, DepositsPerSecond: 20, DepositBurst: 100, MaxStoreBytes: 1 << 30,
		MaxNoticesPerSender: 10_000, SweepInterval: time.Minute,
	}
}

func (o Options) check() error {
	switch {
	case o.Dir == "":
		return errors.New("mailbox.Dir must name a directory")
	case o.MaxDepositBytes < 1 || o.MaxDepositBytes > maxDepositLimit:
		return fmt.Errorf("mailbox.MaxDepositBytes must be between 1 and %d", maxDepositLimit)
	case o.TTL < time.Millisecond:
		return errors.New("mailbox.TTL must be at least a millisecond")
	case o.SweepInterval <= 0:
		return errors.New("mailbox.SweepInterval must be positive")
	case o.DepositsPerSecond <= 0:
		return errors.New("mailbox.DepositsPerSecond must be positive")
	}
	return nil
}

// Stats is what the store holds, and how many peers hold a mailbox stream now.
type Stats struct{ Mails, Bytes, Notices, Present int64 }

// Mailbox serves the protocol on one host until Close.
type Mailbox struct {
	host  host.Host
	opts  Options
	log   logrus.FieldLogger
	now   func() time.Time
	store *store
	rate  *rateLimiter

	mu sync.Mutex
	// sessions are the open streams by the peer ID (string) that holds them;
	// a restarting peer may briefly hold two.
	sessions map[string]map[*session]struct{}
	stopping bool
	streams  sync.WaitGroup // session goroutines, waited for by Close

	stopSweep chan struct{}
	swept     chan struct{} // closed when the sweep goroutine is done
}

// Start opens the store in opts.Dir, sweeps it once and answers the protocol on h.
func Start(h host.Host, opts Options, log logrus.FieldLogger) (*Mailbox, error) {
	if err := opts.check(); err != nil {
		return nil, fmt.Errorf("relay: mailbox: %w", err)
	}
	if log == nil {
		log = logrus.StandardLogger()
	}
	now := opts.now
	if now == nil {
		now = time.Now
	}
	st, err := openStore(opts.Dir, storeLimits{
		ttl:                  opts.TTL.Milliseconds(),
		maxMailsPerRecipient: int64(opts.MaxMailsPerRecipient),
		maxBytesPerRecipient: opts.MaxBytesPerRecipient,
		maxStoreBytes:        opts.MaxStoreBytes,
		maxNoticesPerSender:  int64(opts.MaxNoticesPerSender),
	})
	if err != nil {
		return nil, fmt.Errorf("relay: mailbox: %w", err)
	}
	m := &Mailbox{
		host: h, opts: opts, log: log, now: now, store: st,
		rate:      newRateLimiter(opts.DepositsPerSecond, opts.DepositBurst),
		sessions:  map[string]map[*session]struct{}{},
		stopSweep: make(chan struct{}),
		swept:     make(chan struct{}),
	}
	if err := m.sweep(); err != nil {
		st.close()
		return nil, fmt.Errorf("relay: mailbox: the first sweep: %w", err)
	}
	h.SetStreamHandler(protocol.ID(protocolID), m.serve)
	go m.sweepEvery(opts.SweepInterval)
	return m, nil
}

// nowMs is the clock as the store counts: ms since the epoch.
func (m *Mailbox) nowMs() int64 { return m.now().UnixMilli() }

// KeepsMailFor says whether mail for p is taken here: it holds a mailbox
// stream now, or held one within the TTL.
func (m *Mailbox) KeepsMailFor(p peer.ID) bool {
	m.mu.Lock()
	stopping := m.stopping
	m.mu.Unlock()
	if stopping {
		return false
	}
	keeps, err := m.keepsMailFor(p.String(), m.nowMs())
	if err != nil {
		m.log.Warnf("relay: mailbox: cannot look up %s: %v", p, err)
	}
	return keeps
}

// keepsMailFor is KeepsMailFor's test, for a deposit too (which refuses on
// a store error instead of logging it).
func (m *Mailbox) keepsMailFor(id string, now int64) (bool, error) {
	m.mu.Lock()
	present := len(m.sessions[id]) > 0
	m.mu.Unlock()
	if present {
		return true, nil
	}
	return m.store.knowsPeer(id, now)
}

// Stats says what the store holds.
func (m *Mailbox) Stats() (Stats, error) {
	m.mu.Lock()
	stopping, present := m.stopping, len(m.sessions)
	m.mu.Unlock()
	if stopping {
		return Stats{}, errors.New("relay: mailbox: closed")
	}
	s, err := m.store.stats()
	if err != nil {
		return Stats{}, fmt.Errorf("relay: mailbox: %w", err)
	}
	s.Present = int64(present)
	return s, nil
}

// Close stops answering, ends the sessions and closes the store.
func (m *Mailbox) Close() error {
	m.mu.Lock()
	if m.stopping {
		m.mu.Unlock()
		return nil
	}
	// From here no session joins, and leaving ones do not write: the store
	// closes next, and the last sweep marked every present peer seen.
	m.stopping = true
	var open []*session
	for _, own := range m.sessions {
		for s := range own {
			open = append(open, s)
		}
	}
	m.mu.Unlock()
	m.host.RemoveStreamHandler(protocol.ID(protocolID))
	close(m.stopSweep)
	<-m.swept
	for _, s := range open {
		s.close(errors.New("the relay is stopping"))
	}
	m.streams.Wait()
	if err := m.store.close(); err != nil {
		return fmt.Errorf("relay: mailbox: %w", err)
	}
	return nil
}

func (m *Mailbox) sweepEvery(interval time.Duration) {
	defer close(m.swept)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-m.stopSweep:
			return
		case <-tick.C:
			if err := m.sweep(); err != nil {
				m.log.Warnf("relay: mailbox sweep failed: %v", err)
			}
		}
	}
}

// sweep drops expired mail and notices, forgets peers unseen for a TTL and
// idle rate buckets, and tells the senders with new notices.
func (m *Mailbox) sweep() error {
	now := m.nowMs()
	expired, told, err := m.store.sweep(now, m.present())
	if err != nil {
		return err
	}
	m.rate.prune(now)
	for _, sender := range told {
		m.pushNotices(sender)
	}
	if expired > 0 {
		m.log.Infof("relay: mailbox: %d mails expired unread", expired)
	}
	return nil
}

// present is the peers holding a mailbox stream now.
func (m *Mailbox) present() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	peers := make([]string, 0, len(m.sessions))
	for p := range m.sessions {
		peers = append(peers, p)
	}
	return peers
}

// sessionsOf is a copy of p's open sessions, to push on without m.mu held.
func (m *Mailbox) sessionsOf(p string) []*session {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]*session, 0, len(m.sessions[p]))
	for s := range m.sessions[p] {
		out = append(out, s)
	}
	return out
}

func (m *Mailbox) pushMail(p string) {
	for _, s := range m.sessionsOf(p) {
		s.pushMail()
	}
}

func (m *Mailbox) pushNotices(p string) {
	for _, s := range m.sessionsOf(p) {
		s.pushNotices()
	}
}

// maxStreamsPerConn is the JavaScript relay's maxInboundStreams for the
// protocol: one stream per peer is the rule, a few more are tolerated.
const maxStreamsPerConn = 4

// join adds s to its peer's sessions, unless the relay is stopping or the
// connection holds too many mailbox streams already.
func (m *Mailbox) join(s *session) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.stopping {
		return false
	}
	own := m.sessions[s.peer]
	onConn := 0
	for other := range own {
		if other.stream.Conn() == s.stream.Conn() {
			onConn++
		}
	}
	if onConn >= maxStreamsPerConn {
		return false
	}
	if own == nil {
		own = map[*session]struct{}{}
		m.sessions[s.peer] = own
	}
	own[s] = struct{}{}
	m.streams.Add(1)
	return true
}

func (m *Mailbox) leave(s *session) {
	m.mu.Lock()
	own := m.sessions[s.peer]
	delete(own, s)
	if len(own) == 0 {
		delete(m.sessions, s.peer)
	}
	m.mu.Unlock()
	m.seen(s.peer)
	m.streams.Done()
}

// seen records that p holds (or held until now) a mailbox stream here.
func (m *Mailbox) seen(p string) {
	m.mu.Lock()
	stopping := m.stopping
	m.mu.Unlock()
	if stopping {
		return
	}
	if err := m.store.sawPeer(p, m.nowMs()); err != nil {
		m.log.Warnf("relay: mailbox: cannot record %s: %v", p, err)
	}
}

// serve is the stream handler: one session per stream, read on this goroutine.
func (m *Mailbox) serve(stream network.Stream) {
	s := newSession(m, stream)
	if !m.join(s) {
		stream.Reset()
		return
	}
	m.seen(s.peer)
	s.run()
	m.leave(s)
}
