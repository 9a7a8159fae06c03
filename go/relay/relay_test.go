package relay

import (
	"context"
	"encoding/json"
	"io"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/client"
	"github.com/libp2p/go-libp2p/p2p/transport/websocket"
	"github.com/libp2p/go-msgio"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/sirupsen/logrus"

	"hearth/go/relay/presence"
)

func startRelay(t *testing.T, limits Limits) *Relay {
	t.Helper()
	log := logrus.New()
	log.SetOutput(io.Discard)
	r, err := Start(Config{Port: 0, Limits: limits, Log: log})
	if err != nil {
		t.Fatalf("start relay: %v", err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// newPeer is a peer as Hearth's are: no listening address, reachable only
// through a relay (a key may be given to run two copies of one peer ID).
func newPeer(t *testing.T, key crypto.PrivKey) host.Host {
	t.Helper()
	opts := []libp2p.Option{libp2p.NoListenAddrs, libp2p.NoTransports, libp2p.Transport(websocket.New), libp2p.EnableRelay()}
	if key != nil {
		opts = append(opts, libp2p.Identity(key))
	}
	h, err := libp2p.New(opts...)
	if err != nil {
		t.Fatalf("peer: %v", err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

func relayInfo(r *Relay) peer.AddrInfo {
	info, _ := peer.AddrInfoFromP2pAddr(r.Addrs()[0])
	return *info
}

func reserve(t *testing.T, h host.Host, r *Relay) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.Connect(ctx, relayInfo(r)); err != nil {
		t.Fatalf("connect to relay: %v", err)
	}
	if _, err := client.Reserve(ctx, h, relayInfo(r)); err != nil {
		t.Fatalf("reserve: %v", err)
	}
}

// subscriber speaks /hearth/presence/2.0.0 as js/p2p/presence.js does.
type subscriber struct {
	t      *testing.T
	stream network.Stream
	in     chan map[string]any
}

func subscribe(t *testing.T, h host.Host, r *Relay) *subscriber {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.Connect(ctx, relayInfo(r)); err != nil {
		t.Fatalf("connect to relay: %v", err)
	}
	s, err := h.NewStream(ctx, r.ID(), presence.Protocol)
	if err != nil {
		t.Fatalf("presence stream: %v", err)
	}
	sub := &subscriber{t: t, stream: s, in: make(chan map[string]any, 64)}
	go func() {
		defer close(sub.in)
		reader := msgio.NewVarintReaderSize(s, 1<<20)
		for {
			msg, err := reader.ReadMsg()
			if err != nil {
				return
			}
			var m map[string]any
			if json.Unmarshal(msg, &m) == nil {
				sub.in <- m
			}
		}
	}()
	return sub
}

func (s *subscriber) watch(peers ...peer.ID) error {
	list := []string{}
	for _, p := range peers {
		list = append(list, p.String())
	}
	body, _ := json.Marshal(map[string]any{"watch": list})
	return msgio.NewVarintWriter(s.stream).WriteMsg(body)
}

// next is the next message, or nil when none comes within a second (or the stream ended).
func (s *subscriber) next() map[string]any {
	select {
	case m := <-s.in:
		return m
	case <-time.After(time.Second):
		return nil
	}
}

func (s *subscriber) expect(key, want string) {
	s.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case m, ok := <-s.in:
			if !ok {
				s.t.Fatalf("subscription ended waiting for %s %s", key, want)
			}
			if v, _ := m[key].(string); v == want {
				return
			}
		case <-deadline:
			s.t.Fatalf("no %s %s", key, want)
		}
	}
}

func TestPresenceTellsWatchersOnly(t *testing.T) {
	r := startRelay(t, DefaultLimits())
	alice, bob, stranger := newPeer(t, nil), newPeer(t, nil), newPeer(t, nil)

	a := subscribe(t, alice, r)
	if first := a.next(); first == nil || first["copies"] != nil {
		t.Fatalf("first message %v, want {peers: []} without copies", first)
	}
	reserve(t, alice, r)
	if err := a.watch(bob.ID()); err != nil {
		t.Fatal(err)
	}
	if m := a.next(); m == nil || len(m["peers"].([]any)) != 0 {
		t.Fatalf("answer to the watch list %v, want no peers present", m)
	}

	// a subscriber without a reservation is not listed: it could not be dialed
	b := subscribe(t, bob, r)
	if m := a.next(); m != nil {
		t.Fatalf("told %v before bob reserved", m)
	}
	reserve(t, bob, r)
	a.expect("join", bob.ID().String())

	// the stranger comes and goes: alice does not watch it and hears nothing
	s := subscribe(t, stranger, r)
	reserve(t, stranger, r)
	s.next()
	stranger.Close()
	if m := a.next(); m != nil {
		t.Fatalf("told %v about a peer it does not watch", m)
	}

	// bob's last connection closes: his reservation and presence go with it
	b.stream.Reset()
	bob.Close()
	a.expect("leave", bob.ID().String())
	for deadline := time.Now().Add(5 * time.Second); r.reservations.Has(bob.ID()); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("bob's reservation outlived his connection")
		}
	}
}

func TestPresenceCountsAnotherLiveCopy(t *testing.T) {
	r := startRelay(t, DefaultLimits())
	key, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		t.Fatal(err)
	}
	first := subscribe(t, newPeer(t, key), r)
	first.next()
	second := subscribe(t, newPeer(t, key), r)
	m := second.next()
	if copies, _ := m["copies"].(float64); copies != 1 {
		t.Fatalf("the second copy's first message %v, want copies: 1", m)
	}
}

func TestPresenceEndsAFloodOfWatchLists(t *testing.T) {
	r := startRelay(t, DefaultLimits())
	sub := subscribe(t, newPeer(t, nil), r)
	for i := 0; i < 40; i++ {
		if err := sub.watch(); err != nil {
			break // the relay already ended it
		}
	}
	deadline := time.After(10 * time.Second)
	for {
		select {
		case _, ok := <-sub.in:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatal("40 watch lists at once did not end the subscription")
		}
	}
}

func TestReservationIsFreedWhenItsPeerLeaves(t *testing.T) {
	limits := DefaultLimits()
	limits.MaxReservations = 1
	r := startRelay(t, limits)
	squatter := newPeer(t, nil)
	reserve(t, squatter, r)
	squatter.Close()
	// the slot is free at once, not when the squatter's reservation would expire
	honest := newPeer(t, nil)
	deadline := time.Now().Add(5 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		honest.Connect(ctx, relayInfo(r))
		_, err := client.Reserve(ctx, honest, relayInfo(r))
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the only slot stayed taken after its peer left: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestConnectionsPerIPAreCounted(t *testing.T) {
	limits := DefaultLimits()
	limits.MaxConnectionsPerIP = 2
	r := startRelay(t, limits)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := 0; i < 2; i++ {
		if err := newPeer(t, nil).Connect(ctx, relayInfo(r)); err != nil {
			t.Fatalf("connection %d refused: %v", i+1, err)
		}
	}
	if err := newPeer(t, nil).Connect(ctx, relayInfo(r)); err == nil {
		t.Fatal("a third connection from 127.0.0.1 was taken with a limit of 2")
	}
}

// relayedStream opens a stream from one peer to another through the relay.
func relayedStream(t *testing.T, from, to host.Host, r *Relay) network.Stream {
	t.Helper()
	const proto = "/hearth/test-bytes/1.0.0"
	to.SetStreamHandler(proto, func(s network.Stream) {
		io.Copy(io.Discard, s)
		s.Write([]byte{1}) // all read
		s.Close()
	})
	circuit := r.Addrs()[0].Encapsulate(ma.StringCast("/p2p-circuit/p2p/" + to.ID().String()))
	info, _ := peer.AddrInfoFromP2pAddr(circuit)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := from.Connect(ctx, *info); err != nil {
		t.Fatalf("dial through the relay: %v", err)
	}
	s, err := from.NewStream(ctx, to.ID(), proto)
	if err != nil {
		t.Fatalf("relayed stream: %v", err)
	}
	return s
}

func TestRelayedBytesArePacedPerPeer(t *testing.T) {
	limits := DefaultLimits()
	limits.MaxRelayedBytesPerSecondPerPeer = 32 << 10
	limits.MaxRelayedBurstBytesPerPeer = 16 << 10
	r := startRelay(t, limits)
	sender, receiver := newPeer(t, nil), newPeer(t, nil)
	reserve(t, receiver, r)
	s := relayedStream(t, sender, receiver, r)

	start := time.Now()
	if _, err := s.Write(make([]byte, 112<<10)); err != nil {
		t.Fatal(err)
	}
	s.CloseWrite()
	if _, err := io.ReadFull(s, make([]byte, 1)); err != nil {
		t.Fatalf("the receiver did not get it all: %v", err)
	}
	// 16 KiB of burst, then 96 KiB at 32 KiB/s: at least 3 s
	if elapsed := time.Since(start); elapsed < 2700*time.Millisecond {
		t.Fatalf("112 KiB went through in %v, faster than 32 KiB/s after a 16 KiB burst", elapsed)
	}
	// the relayed connection ends: its peers' buckets are forgotten once full again
	sender.Network().ClosePeer(receiver.ID())
	deadline := time.Now().Add(5 * time.Second)
	for r.throttle.size() > 0 {
		r.throttle.prune()
		if time.Now().After(deadline) {
			t.Fatalf("%d buckets left after the relayed connection ended", r.throttle.size())
		}
		time.Sleep(100 * time.Millisecond)
	}
}
