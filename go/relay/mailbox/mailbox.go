// Package mailbox is the Go relay's side of /hearth/mailbox/1.0.0: mail held
// on disk for peers that are away. Same wire and same database schema as the
// JavaScript relay's mailbox (js/relay/mailbox, js/p2p/mailbox-frames.js).
package mailbox

import (
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/sirupsen/logrus"
)

// Options mirror DEFAULT_MAILBOX_OPTIONS in js/relay/mailbox/index.js.
type Options struct {
	Dir                  string
	TTL                  time.Duration
	MaxMailsPerRecipient int
	MaxBytesPerRecipient int64
	MaxDepositBytes      int64
	DepositsPerSecond    float64
	DepositBurst         float64
	MaxStoreBytes        int64
	MaxNoticesPerSender  int
	SweepInterval        time.Duration
}

// DefaultOptions are the JavaScript relay's defaults, in dir.
func DefaultOptions(dir string) Options {
	return Options{
		Dir: dir, TTL: 14 * 24 * time.Hour, MaxMailsPerRecipient: 1000, MaxBytesPerRecipient: 64 << 20,
		MaxDepositBytes: 2 << 20, DepositsPerSecond: 20, DepositBurst: 100, MaxStoreBytes: 1 << 30,
		MaxNoticesPerSender: 10_000, SweepInterval: time.Minute,
	}
}

// Stats is what the store holds, and how many peers hold a mailbox stream now.
type Stats struct{ Mails, Bytes, Notices, Present int64 }

// Mailbox serves the protocol on one host until Close.
type Mailbox struct{}

// Start opens the store in opts.Dir, sweeps it once and answers the protocol on h.
func Start(h host.Host, opts Options, log logrus.FieldLogger) (*Mailbox, error) {
	panic("not built yet")
}

// KeepsMailFor says whether mail for p is taken here: it holds a mailbox
// stream now, or held one within the TTL.
func (m *Mailbox) KeepsMailFor(p peer.ID) bool { panic("not built yet") }

// Stats says what the store holds.
func (m *Mailbox) Stats() (Stats, error) { panic("not built yet") }

// Close stops answering, ends the sessions and closes the store.
func (m *Mailbox) Close() error { panic("not built yet") }
