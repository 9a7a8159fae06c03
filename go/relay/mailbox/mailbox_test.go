package mailbox

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/sirupsen/logrus"
)

// The relay's side of /hearth/mailbox/1.0.0 spoken to directly, as
// js/relay/mailbox/server.test.js: in-process hosts on 127.0.0.1, a clock
// the tests move, and a client that writes the frames by hand.

const wait = 5 * time.Second

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func (c *clock) ms() int64 { return c.now().UnixMilli() }

type fixture struct {
	t     *testing.T
	relay host.Host
	mb    *Mailbox
	opts  Options
	clock *clock
}

func quiet() logrus.FieldLogger {
	log := logrus.New()
	log.SetOutput(io.Discard)
	return log
}

// newFixture starts a relay with a mailbox in a fresh directory; sweeps run
// only when a test calls them.
func newFixture(t *testing.T, tune func(*Options)) *fixture {
	t.Helper()
	f := &fixture{t: t, clock: &clock{t: time.UnixMilli(t0)}}
	f.opts = DefaultOptions(t.TempDir())
	f.opts.SweepInterval = time.Hour
	f.opts.now = f.clock.now
	if tune != nil {
		tune(&f.opts)
	}
	f.relay = newHost(t)
	f.start()
	return f
}

func (f *fixture) start() {
	f.t.Helper()
	mb, err := Start(f.relay, f.opts, quiet())
	if err != nil {
		f.t.Fatal(err)
	}
	f.mb = mb
	f.t.Cleanup(func() { mb.Close() })
}

func newHost(t *testing.T) host.Host {
	t.Helper()
	h, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// peer is a host connected to the relay.
func (f *fixture) peer() host.Host {
	f.t.Helper()
	h := newHost(f.t)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := h.Connect(ctx, peer.AddrInfo{ID: f.relay.ID(), Addrs: f.relay.Addrs()}); err != nil {
		f.t.Fatal(err)
	}
	return h
}

func (f *fixture) stats() Stats {
	f.t.Helper()
	s, err := f.mb.Stats()
	if err != nil {
		f.t.Fatal(err)
	}
	return s
}

func eventually(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(wait); !ok(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", wait, what)
		}
	}
}

// client is one mailbox stream, spoken by hand.
type client struct {
	t      *testing.T
	self   string
	stream network.Stream
	r      *bufio.Reader
	nextID int
	// pushed holds mail and notices read while waiting for an answer.
	pushed []reply
}

// open opens a mailbox stream from h and returns once the relay holds it.
func (f *fixture) open(h host.Host) *client {
	f.t.Helper()
	// The sessions already there, by identity: a count would take a stream
	// the relay is still dropping (a test's earlier bad one) for this one.
	before := map[*session]bool{}
	for _, s := range f.mb.sessionsOf(h.ID().String()) {
		before[s] = true
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	s, err := h.NewStream(ctx, f.relay.ID(), protocol.ID(protocolID))
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { s.Reset() })
	c := &client{t: f.t, self: h.ID().String(), stream: s, r: bufio.NewReader(s)}
	c.send(map[string]any{"op": "hello"}, nil) // an unknown op: the relay ignores it, but now sees the stream
	eventually(f.t, "the relay holds the stream", func() bool {
		for _, s := range f.mb.sessionsOf(c.self) {
			if !before[s] {
				return true
			}
		}
		return false
	})
	return c
}

func (c *client) sendRaw(frame []byte) {
	c.t.Helper()
	if _, err := c.stream.Write(binary.AppendUvarint(nil, uint64(len(frame)))); err != nil {
		c.t.Fatal(err)
	}
	if _, err := c.stream.Write(frame); err != nil {
		c.t.Fatal(err)
	}
}

func (c *client) send(h map[string]any, payload []byte) {
	c.t.Helper()
	text, err := json.Marshal(h)
	if err != nil {
		c.t.Fatal(err)
	}
	c.sendRaw(append(append(binary.BigEndian.AppendUint32(nil, uint32(len(text))), text...), payload...))
}

// reply is any frame the relay sends.
type reply struct {
	ID        json.RawMessage `json:"id"`
	OK        bool            `json:"ok"`
	ExpiresAt int64           `json:"expiresAt"`
	Error     *struct {
		Name         string `json:"name"`
		Message      string `json:"message"`
		RetryAfterMs *int64 `json:"retryAfterMs"`
	} `json:"error"`
	Mail *struct {
		Mid         int64  `json:"mid"`
		From        string `json:"from"`
		Ref         string `json:"ref"`
		DepositedAt int64  `json:"depositedAt"`
	} `json:"mail"`
	Notice *struct {
		Nid  int64  `json:"nid"`
		Kind string `json:"kind"`
		To   string `json:"to"`
		Ref  string `json:"ref"`
		At   int64  `json:"at"`
	} `json:"notice"`
	payload []byte
}

// readWithin reads the next frame, or fails with the stream's error.
func (c *client) readWithin(d time.Duration) (reply, error) {
	c.stream.SetReadDeadline(time.Now().Add(d))
	defer c.stream.SetReadDeadline(time.Time{})
	n, err := binary.ReadUvarint(c.r)
	if err != nil {
		return reply{}, err
	}
	frame := make([]byte, n)
	if _, err := io.ReadFull(c.r, frame); err != nil {
		return reply{}, err
	}
	headLength := binary.BigEndian.Uint32(frame)
	var r reply
	if err := json.Unmarshal(frame[4:4+headLength], &r); err != nil {
		c.t.Fatalf("the relay sent a head that is not JSON: %q", frame[4:4+headLength])
	}
	r.payload = frame[4+headLength:]
	return r, nil
}

func (c *client) read() reply {
	c.t.Helper()
	r, err := c.readWithin(wait)
	if err != nil {
		c.t.Fatalf("reading from the relay: %v", err)
	}
	return r
}

// quiet says the relay sends nothing for a while.
func (c *client) quiet() {
	c.t.Helper()
	if len(c.pushed) > 0 {
		c.t.Fatalf("the relay sent %+v", c.pushed[0])
	}
	r, err := c.readWithin(300 * time.Millisecond)
	var timeout net.Error
	if err == nil {
		c.t.Fatalf("the relay sent %+v", r)
	} else if !errors.As(err, &timeout) || !timeout.Timeout() {
		c.t.Fatalf("the stream broke: %v", err)
	}
}

// deposit sends a deposit (fields over the honest ones) and returns the relay's answer to it.
func (c *client) deposit(to, ref string, payload []byte, fields map[string]any) reply {
	c.t.Helper()
	c.nextID++
	h := map[string]any{"id": c.nextID, "op": "deposit", "from": c.self, "to": to, "ref": ref}
	for k, v := range fields {
		h[k] = v
	}
	c.send(h, payload)
	r := c.read()
	for r.ID == nil {
		c.pushed = append(c.pushed, r)
		r = c.read()
	}
	if string(r.ID) != string(mustJSON(h["id"])) {
		c.t.Fatalf("the answer to deposit %v has id %s: %+v", h["id"], r.ID, r)
	}
	return r
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

func (c *client) wantOK(r reply) {
	c.t.Helper()
	if !r.OK || r.Error != nil {
		c.t.Fatalf("deposit refused: %+v", r.Error)
	}
}

func (c *client) wantRefused(r reply, name string) {
	c.t.Helper()
	if r.OK || r.Error == nil || r.Error.Name != name {
		c.t.Fatalf("got ok=%v error=%+v, want %s", r.OK, r.Error, name)
	}
}

// next is the next push: one read while waiting for an answer, else the next frame.
func (c *client) next() reply {
	c.t.Helper()
	if len(c.pushed) > 0 {
		r := c.pushed[0]
		c.pushed = c.pushed[1:]
		return r
	}
	return c.read()
}

func (c *client) mail() reply {
	c.t.Helper()
	r := c.next()
	if r.Mail == nil {
		c.t.Fatalf("want mail, got %+v", r)
	}
	return r
}

func (c *client) notice() reply {
	c.t.Helper()
	r := c.next()
	if r.Notice == nil {
		c.t.Fatalf("want a notice, got %+v", r)
	}
	return r
}

func TestDepositIsPushedAndItsAckTellsTheSender(t *testing.T) {
	f := newFixture(t, nil)
	aliceHost, bobHost := f.peer(), f.peer()
	alice, bob := f.open(aliceHost), f.open(bobHost)
	answer := alice.deposit(bob.self, "txn1", []byte("sealed for bob"), nil)
	alice.wantOK(answer)
	if answer.ExpiresAt != t0+f.opts.TTL.Milliseconds() {
		t.Fatalf("expiresAt %d", answer.ExpiresAt)
	}
	got := bob.mail()
	if got.Mail.From != alice.self || got.Mail.Ref != "txn1" || got.Mail.DepositedAt != t0 || string(got.payload) != "sealed for bob" {
		t.Fatalf("bob got %+v %q", got.Mail, got.payload)
	}
	f.clock.add(time.Second)
	bob.send(map[string]any{"op": "ack", "mail": []int64{got.Mail.Mid}}, nil)
	n := alice.notice()
	if n.Notice.Kind != "delivered" || n.Notice.To != bob.self || n.Notice.Ref != "txn1" || n.Notice.At != t0+1000 {
		t.Fatalf("alice was told %+v", n.Notice)
	}
	if s := f.stats(); s.Mails != 0 || s.Notices != 1 || s.Present != 2 {
		t.Fatalf("after the ack: %+v", s)
	}
	alice.send(map[string]any{"op": "ack-notices", "notices": []int64{n.Notice.Nid}}, nil)
	eventually(t, "the acked notice is deleted", func() bool { return f.stats().Notices == 0 })
	bob.quiet()
	alice.quiet()
}

func TestDepositForAnUnknownRecipientIsRefused(t *testing.T) {
	f := newFixture(t, nil)
	aliceHost, bobHost, strangerHost := f.peer(), f.peer(), f.peer()
	alice := f.open(aliceHost)
	alice.wantRefused(alice.deposit(strangerHost.ID().String(), "r1", []byte("x"), nil), errUnknownRecipient)

	bob := f.open(bobHost) // bob is seen, and stays known for a TTL after he leaves
	bob.stream.Close()
	eventually(t, "bob's stream is gone", func() bool { return f.stats().Present == 1 })
	if !f.mb.KeepsMailFor(bobHost.ID()) || f.mb.KeepsMailFor(strangerHost.ID()) {
		t.Fatal("KeepsMailFor: want bob and not the stranger")
	}
	f.clock.add(f.opts.TTL)
	alice.wantOK(alice.deposit(bob.self, "r2", []byte("x"), nil))
	f.clock.add(time.Millisecond)
	alice.wantRefused(alice.deposit(bob.self, "r3", []byte("x"), nil), errUnknownRecipient)
	if f.mb.KeepsMailFor(bobHost.ID()) {
		t.Fatal("bob, unseen for longer than the TTL, is still kept mail for")
	}
	if s := f.stats(); s.Mails != 1 {
		t.Fatalf("stored %d mails", s.Mails)
	}
}

func TestDepositClaimingAnotherOriginIsRefused(t *testing.T) {
	f := newFixture(t, nil)
	aliceHost, bobHost, carolHost := f.peer(), f.peer(), f.peer()
	alice, bob := f.open(aliceHost), f.open(bobHost)
	f.open(carolHost)
	alice.wantRefused(alice.deposit(bob.self, "forged", []byte("from carol, honest"), map[string]any{"from": carolHost.ID().String()}), errOrigin)
	alice.wantRefused(alice.deposit(bob.self, "no-from", []byte("x"), map[string]any{"from": nil}), errOrigin)
	if s := f.stats(); s.Mails != 0 {
		t.Fatal("a forged deposit was stored")
	}
	// the same stream goes on: alice may deposit as herself
	alice.wantOK(alice.deposit(bob.self, "real", []byte("from alice"), nil))
	if got := bob.mail(); got.Mail.From != alice.self || got.Mail.Ref != "real" {
		t.Fatalf("bob got %+v", got.Mail)
	}
}

func TestBadRefsAndRecipientsAreRefused(t *testing.T) {
	f := newFixture(t, nil)
	aliceHost, bobHost := f.peer(), f.peer()
	alice, bob := f.open(aliceHost), f.open(bobHost)
	for _, fields := range []map[string]any{
		{"ref": "no spaces"}, {"ref": strings.Repeat("x", 101)}, {"ref": ""}, {"ref": 7},
		{"to": "bob"}, {"to": nil}, {"to": bob.self + "x"},
	} {
		alice.wantRefused(alice.deposit(bob.self, "r", []byte("x"), fields), errBadRequest)
	}
	alice.wantOK(alice.deposit(bob.self, strings.Repeat("A", 100), []byte("x"), nil))
	alice.wantOK(alice.deposit(bob.self, "a.b_c~d-e", []byte("x"), map[string]any{"id": "a string id"}))
	if s := f.stats(); s.Mails != 2 {
		t.Fatalf("stored %d mails", s.Mails)
	}
}

func TestOversizeDepositIsRefused(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.MaxDepositBytes = 1024 })
	aliceHost, bobHost := f.peer(), f.peer()
	alice, bob := f.open(aliceHost), f.open(bobHost)
	alice.wantRefused(alice.deposit(bob.self, "big", make([]byte, 1025), nil), errTooLarge)
	alice.wantOK(alice.deposit(bob.self, "fits", make([]byte, 1024), nil))
	if got := bob.mail(); got.Mail.Ref != "fits" || len(got.payload) != 1024 {
		t.Fatalf("bob got %+v with %d bytes", got.Mail, len(got.payload))
	}
}

func TestRepeatedDepositIsStoredOnce(t *testing.T) {
	f := newFixture(t, nil)
	aliceHost, bobHost := f.peer(), f.peer()
	alice, bob := f.open(aliceHost), f.open(bobHost)
	first := alice.deposit(bob.self, "txn", []byte("once"), nil)
	alice.wantOK(first)
	f.clock.add(time.Minute)
	again := alice.deposit(bob.self, "txn", []byte("once"), nil)
	alice.wantOK(again)
	if again.ExpiresAt != first.ExpiresAt {
		t.Fatalf("the repeat expires at %d, the first at %d", again.ExpiresAt, first.ExpiresAt)
	}
	if s := f.stats(); s.Mails != 1 {
		t.Fatalf("stored %d mails", s.Mails)
	}
	bob.mail()
	bob.quiet()
}

func TestDepositsOverTheRateAreToldWhenToRetry(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.DepositBurst, o.DepositsPerSecond = 3, 1 })
	aliceHost, bobHost, carolHost := f.peer(), f.peer(), f.peer()
	alice, bob, carol := f.open(aliceHost), f.open(bobHost), f.open(carolHost)
	for i := range 3 {
		alice.wantOK(alice.deposit(bob.self, "r"+string(rune('a'+i)), []byte("x"), nil))
	}
	limited := alice.deposit(bob.self, "r4", []byte("x"), nil)
	alice.wantRefused(limited, errRateLimited)
	if limited.Error.RetryAfterMs == nil || *limited.Error.RetryAfterMs != 1000 {
		t.Fatalf("retryAfterMs %v, want 1000", limited.Error.RetryAfterMs)
	}
	f.clock.add(250 * time.Millisecond)
	if r := alice.deposit(bob.self, "r4", []byte("x"), nil); r.Error == nil || r.Error.RetryAfterMs == nil || *r.Error.RetryAfterMs != 750 {
		t.Fatalf("a quarter second later: %+v", r.Error)
	}
	carol.wantOK(carol.deposit(bob.self, "r1", []byte("x"), nil)) // each sender has its own bucket
	f.clock.add(750 * time.Millisecond)
	alice.wantOK(alice.deposit(bob.self, "r4", []byte("x"), nil))
	if s := f.stats(); s.Mails != 5 {
		t.Fatalf("stored %d mails", s.Mails)
	}
}

func TestDepositOverTheRecipientsQuotaIsMailboxFull(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.MaxMailsPerRecipient, o.MaxBytesPerRecipient = 2, 100 })
	aliceHost, bobHost, carolHost := f.peer(), f.peer(), f.peer()
	alice, bob, carol := f.open(aliceHost), f.open(bobHost), f.open(carolHost)
	alice.wantOK(alice.deposit(bob.self, "r1", []byte("x"), nil))
	alice.wantOK(alice.deposit(bob.self, "r2", []byte("x"), nil))
	full := alice.deposit(bob.self, "r3", []byte("x"), nil)
	alice.wantRefused(full, errFull)
	if !strings.Contains(full.Error.Message, "holds 2 mails") {
		t.Fatalf("message %q", full.Error.Message)
	}
	alice.wantRefused(alice.deposit(carol.self, "big", make([]byte, 101), nil), errFull)
	alice.wantOK(alice.deposit(carol.self, "fits", make([]byte, 100), nil))
	// bob acks one: there is room again
	bob.send(map[string]any{"op": "ack", "mail": []int64{bob.mail().Mail.Mid}}, nil)
	eventually(t, "the ack deletes the mail", func() bool { return f.stats().Mails == 2 })
	alice.wantOK(alice.deposit(bob.self, "r3", []byte("x"), nil))
}

func TestAtMostAWindowOfMailIsPushedUnacked(t *testing.T) {
	const window = 16 // MAILBOX_PUSH_WINDOW: the wire's number, not this package's constant
	f := newFixture(t, func(o *Options) { o.DepositBurst = 100 })
	aliceHost, bobHost := f.peer(), f.peer()
	alice, bob := f.open(aliceHost), f.open(bobHost)
	for i := range window + 1 {
		alice.wantOK(alice.deposit(bob.self, "r"+string(rune('a'+i)), []byte{byte(i)}, nil))
	}
	var mids []int64
	for i := range window {
		got := bob.mail()
		if got.payload[0] != byte(i) {
			t.Fatalf("mail %d is %d: not oldest first", i, got.payload[0])
		}
		mids = append(mids, got.Mail.Mid)
	}
	bob.quiet() // the 17th waits for an ack
	bob.send(map[string]any{"op": "ack", "mail": mids[:1]}, nil)
	if got := bob.mail(); got.payload[0] != window {
		t.Fatalf("after one ack came mail %d", got.payload[0])
	}
	bob.quiet()
	// a new stream starts from the oldest unacked mail again, with a window of its own
	again := f.open(bobHost)
	for i := 1; i <= window; i++ {
		if got := again.mail(); got.payload[0] != byte(i) {
			t.Fatalf("the new stream's mail %d is %d", i, got.payload[0])
		}
	}
	again.quiet()
}

func TestSweepTurnsExpiredMailIntoNotices(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.TTL = time.Hour })
	aliceHost, bobHost := f.peer(), f.peer()
	alice := f.open(aliceHost)
	bob := f.open(bobHost)
	bob.stream.Reset()
	eventually(t, "bob's stream is gone", func() bool { return f.stats().Present == 1 })
	alice.wantOK(alice.deposit(bob.self, "unread", []byte("x"), nil))
	f.clock.add(30 * time.Minute)
	alice.wantOK(alice.deposit(bob.self, "later", []byte("x"), nil))
	f.clock.add(30 * time.Minute)
	if err := f.mb.sweep(); err != nil {
		t.Fatal(err)
	}
	n := alice.notice()
	if n.Notice.Kind != "expired" || n.Notice.To != bob.self || n.Notice.Ref != "unread" || n.Notice.At != t0+time.Hour.Milliseconds() {
		t.Fatalf("alice was told %+v", n.Notice)
	}
	if s := f.stats(); s.Mails != 1 || s.Notices != 1 {
		t.Fatalf("after the sweep: %+v", s)
	}
	// bob, back, gets only the mail that has not expired
	again := f.open(bobHost)
	if got := again.mail(); got.Mail.Ref != "later" {
		t.Fatalf("bob got %+v", got.Mail)
	}
	again.quiet()
}

func TestBadFramesEndOnlyTheirStream(t *testing.T) {
	f := newFixture(t, nil)
	aliceHost, bobHost := f.peer(), f.peer()
	alice, bob := f.open(aliceHost), f.open(bobHost)
	frame := func(text string) []byte {
		return append(binary.BigEndian.AppendUint32(nil, uint32(len(text))), text...)
	}
	longHead := binary.BigEndian.AppendUint32(nil, 0xffffffff)
	bad := map[string]func(c *client){
		"not length-prefixed":        func(c *client) { c.stream.Write(bytes.Repeat([]byte{0xff}, 16)) },
		"frame over the limit":       func(c *client) { c.stream.Write([]byte{0x80, 0x80, 0x80, 0x04}) }, // 8 MiB
		"empty frame":                func(c *client) { c.stream.Write([]byte{0}) },
		"shorter than a head length": func(c *client) { c.sendRaw([]byte{1, 2}) },
		"head length past the frame": func(c *client) { c.sendRaw(append(longHead, 0, 0, 0, 0)) },
		"head not JSON":              func(c *client) { c.sendRaw(frame("{{{")) },
		"head an array":              func(c *client) { c.sendRaw(frame("[]")) },
		"head null":                  func(c *client) { c.sendRaw(frame("null")) },
		"head not UTF-8":             func(c *client) { c.sendRaw(frame("{\"op\":\"\xff\"}")) },
		"ack not a list":             func(c *client) { c.send(map[string]any{"op": "ack", "mail": "all of them"}, nil) },
		"ack of id 0":                func(c *client) { c.send(map[string]any{"op": "ack", "mail": []int{1, 0}}, nil) },
		"ack of a fraction":          func(c *client) { c.send(map[string]any{"op": "ack", "mail": []float64{1.5}}, nil) },
		"ack of too many":            func(c *client) { c.send(map[string]any{"op": "ack", "mail": ids(1025)}, nil) },
		"ack of a string":            func(c *client) { c.send(map[string]any{"op": "ack", "mail": []any{1, "2"}}, nil) },
		"notice ack without a list":  func(c *client) { c.send(map[string]any{"op": "ack-notices"}, nil) },
		"deposit without an id": func(c *client) {
			c.send(map[string]any{"op": "deposit", "from": c.self, "to": bob.self, "ref": "r"}, nil)
		},
		"deposit with a boolean id": func(c *client) {
			c.send(map[string]any{"id": true, "op": "deposit", "from": c.self, "to": bob.self, "ref": "r"}, nil)
		},
		"deposit with a 65-char id": func(c *client) { c.send(map[string]any{"id": strings.Repeat("i", 65), "op": "deposit"}, nil) },
	}
	for what, send := range bad {
		c := f.open(aliceHost)
		send(c)
		r, err := c.readWithin(wait)
		var timeout net.Error
		if err == nil {
			t.Fatalf("%s: the relay answered %+v", what, r)
		} else if errors.As(err, &timeout) && timeout.Timeout() {
			t.Fatalf("%s: the stream stayed open", what)
		}
	}
	eventually(t, "the bad streams are gone", func() bool { return f.stats().Present == 2 })
	// unknown ops are ignored, and the first streams work as before
	alice.send(map[string]any{"op": "something-newer", "payload": true}, nil)
	alice.wantOK(alice.deposit(bob.self, "after", []byte("still here"), nil))
	if got := bob.mail(); string(got.payload) != "still here" {
		t.Fatalf("bob got %q", got.payload)
	}
}

// ids is 1…n.
func ids(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i + 1
	}
	return out
}

func TestMailSurvivesARestartOnTheSameDirectory(t *testing.T) {
	f := newFixture(t, nil)
	aliceHost, bobHost := f.peer(), f.peer()
	alice := f.open(aliceHost)
	f.open(bobHost).stream.Reset()
	eventually(t, "bob's stream is gone", func() bool { return f.stats().Present == 1 })
	alice.wantOK(alice.deposit(bobHost.ID().String(), "kept", []byte("on disk"), nil))
	if err := f.mb.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.readWithin(wait); err == nil {
		t.Fatal("alice's stream outlived the mailbox")
	}
	if f.mb.KeepsMailFor(bobHost.ID()) {
		t.Fatal("a closed mailbox keeps mail")
	}
	f.start()
	bob := f.open(bobHost)
	if got := bob.mail(); got.Mail.Ref != "kept" || got.Mail.From != alice.self || string(got.payload) != "on disk" {
		t.Fatalf("bob got %+v %q", got.Mail, got.payload)
	}
}

func TestASecondMailboxOnADirectoryInUseFails(t *testing.T) {
	f := newFixture(t, nil)
	other := newHost(t)
	mb, err := Start(other, f.opts, quiet())
	if err == nil {
		mb.Close()
		t.Fatal("a second mailbox opened the directory in use")
	}
	if !strings.Contains(err.Error(), "in use by another relay") {
		t.Fatalf("unclear error: %v", err)
	}
	// the first one is unharmed
	aliceHost := f.peer()
	alice := f.open(aliceHost)
	alice.wantOK(alice.deposit(alice.self, "to-self", []byte("x"), nil))
	alice.mail()
}

func TestAConnectionHoldsAtMostFourMailboxStreams(t *testing.T) {
	f := newFixture(t, nil)
	aliceHost := f.peer()
	for range 4 {
		f.open(aliceHost)
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	s, err := aliceHost.NewStream(ctx, f.relay.ID(), protocol.ID(protocolID))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Reset()
	fifth := &client{t: t, self: aliceHost.ID().String(), stream: s, r: bufio.NewReader(s)}
	fifth.send(map[string]any{"id": 1, "op": "deposit", "from": fifth.self, "to": fifth.self, "ref": "r"}, nil)
	if r, err := fifth.readWithin(wait); err == nil {
		t.Fatalf("the fifth stream was answered: %+v", r)
	}
	if n := len(f.mb.sessionsOf(fifth.self)); n != 4 {
		t.Fatalf("alice holds %d sessions", n)
	}
}
