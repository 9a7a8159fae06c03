package routing

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-msgio"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/sirupsen/logrus"
)

// --- helpers ---

func newHost(t *testing.T) host.Host {
	t.Helper()
	h, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"))
	if err != nil {
		t.Fatalf("new host: %v", err)
	}
	t.Cleanup(func() { _ = h.Close() })
	return h
}

// testLog writes the relay's log to the test's.
type testLog struct{ t *testing.T }

func (w testLog) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

type relay struct {
	h     host.Host
	links *Links
}

// startRelay starts routing on a new host; it is closed when the test ends
// (routing before the host, so nothing logs after the test).
func startRelay(t *testing.T, opts Options, peers ...relay) relay {
	t.Helper()
	h := newHost(t)
	for _, p := range peers {
		opts.Peers = append(opts.Peers, p2pAddrs(p.h)...)
	}
	log := logrus.New()
	log.Out = testLog{t}
	log.Level = logrus.DebugLevel
	opts.Log = log.WithField("relay", h.ID().ShortString())
	l, err := Start(h, opts)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return relay{h, l}
}

func (r relay) stop(t *testing.T) {
	t.Helper()
	_ = r.links.Close()
	_ = r.h.Close()
}

func p2pAddrs(h host.Host) []ma.Multiaddr {
	addrs, err := peer.AddrInfoToP2pAddrs(&peer.AddrInfo{ID: h.ID(), Addrs: h.Addrs()})
	if err != nil {
		panic(err)
	}
	return addrs
}

func p2pStrings(h host.Host) []string { return addrStrings(p2pAddrs(h)) }

// ids are the sorted peer IDs relay addresses end in, each once.
func ids(addrs []string) []string {
	var out []string
	for _, a := range addrs {
		_, id, _ := strings.Cut(a, "/p2p/")
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// linkedIDs are the relays r is linked with now.
func linkedIDs(r relay) []string { return ids(addrStrings(r.links.Linked())) }

func idsOf(hs ...host.Host) []string {
	var out []string
	for _, h := range hs {
		out = append(out, h.ID().String())
	}
	slices.Sort(out)
	return out
}

func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// rawAsk sends one frame to the relay on h and returns the answer frame, or
// the error that ended the stream instead.
func rawAsk(from, to host.Host, request []byte) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := from.Connect(ctx, peer.AddrInfo{ID: to.ID(), Addrs: to.Addrs()}); err != nil {
		return "", err
	}
	s, err := from.NewStream(ctx, to.ID(), ProtocolID)
	if err != nil {
		return "", err
	}
	defer s.Reset()
	_ = s.SetDeadline(time.Now().Add(5 * time.Second))
	if err := msgio.NewVarintWriter(s).WriteMsg(request); err != nil {
		return "", err
	}
	_ = s.CloseWrite()
	b, err := msgio.NewVarintReaderSize(s, maxMessageBytes).ReadMsg()
	return string(b), err
}

func mustAsk(t *testing.T, from, to host.Host, request string) string {
	t.Helper()
	answer, err := rawAsk(from, to, []byte(request))
	if err != nil {
		t.Fatalf("%s: %v", request, err)
	}
	return answer
}

// askRelays asks to "relays" and returns the IDs of the relays it names.
func askRelays(t *testing.T, from, to host.Host) []string {
	t.Helper()
	return ids(mustJSON(t, mustAsk(t, from, to, `{"op":"relays"}`))["relays"])
}

func mustJSON(t *testing.T, answer string) map[string][]string {
	t.Helper()
	var m map[string][]string
	if err := json.Unmarshal([]byte(answer), &m); err != nil {
		t.Fatalf("answer %q: %v", answer, err)
	}
	return m
}

func randomID(t *testing.T) peer.ID {
	t.Helper()
	_, pub, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		t.Fatal(err)
	}
	id, err := peer.IDFromPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// --- the wire (js/p2p/routing.test.js) ---

func TestRelayAddrsFrom(t *testing.T) {
	const id = "12D3KooWBVJTuNBRmN6p3qYWbsiJXPVW9A1p6UPZhtrCajM2WnJo"
	addr := "/ip4/127.0.0.1/tcp/8082/ws/p2p/" + id
	list := func(items ...any) json.RawMessage { return encodeJSON(items) }

	got := relayAddrsFrom(list(addr))
	if len(got) != 1 || got[0].String() != addr || relayIDOf(got[0]).String() != id {
		t.Fatalf("a relay address: got %v", got)
	}
	for _, bad := range []string{``, `null`, `"x"`, `{}`, `7`} {
		if got := relayAddrsFrom(json.RawMessage(bad)); len(got) != 0 {
			t.Errorf("%s: got %v, want none", bad, got)
		}
	}
	if got := relayAddrsFrom(list(
		"/ip4/127.0.0.1/tcp/8082/ws", // no peer ID
		addr+"/p2p-circuit/p2p/"+id,  // a peer behind a relay, not a relay
		"/ip4/127.0.0.1/tcp/8082/ws/p2p-circuit/p2p/"+id,
		"not a multiaddr",
		42,
		nil,
		"/ip4/127.0.0.1/tcp/8082/ws/p2p/"+id+strings.Repeat("x", 400),
		"/dns4/"+strings.Repeat("a", 400)+"/tcp/1/p2p/"+id, // too long, though it parses
	)); len(got) != 0 {
		t.Errorf("bad addresses: got %v, want none", got)
	}
	many := make([]any, maxAddrs+10)
	for i := range many {
		many[i] = addr
	}
	if got := relayAddrsFrom(list(many...)); len(got) != maxAddrs {
		t.Errorf("%d addresses: kept %d, want %d", len(many), len(got), maxAddrs)
	}
}

func TestParseMessage(t *testing.T) {
	if m, err := parseMessage([]byte(`{"relays":[]}`)); err != nil || string(m["relays"]) != "[]" {
		t.Errorf("an object: %v, %v", m, err)
	}
	for _, bad := range []string{`[]`, `null`, `"x"`, `{`, ``, `7`} {
		if _, err := parseMessage([]byte(bad)); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

// --- relays (js/relay/links.test.js and more) ---

// A chain r2→r1, r3→r2 becomes a full mesh; "relays" leaves out the asker;
// a relay that stops is dropped at once.
func TestChainBecomesMeshAndStoppedRelayIsDropped(t *testing.T) {
	r1 := startRelay(t, Options{})
	r2 := startRelay(t, Options{}, r1)
	r3 := startRelay(t, Options{}, r2)
	client := newHost(t)

	all := []relay{r1, r2, r3}
	waitFor(t, 10*time.Second, "not a full mesh", func() bool {
		for _, r := range all {
			if len(linkedIDs(r)) != 2 {
				return false
			}
		}
		return true
	})
	for i, r := range all {
		others := idsOf(all[(i+1)%3].h, all[(i+2)%3].h)
		if got := linkedIDs(r); !slices.Equal(got, others) {
			t.Errorf("r%d linked with %v, want %v", i+1, got, others)
		}
	}

	if got := askRelays(t, client, r1.h); !slices.Equal(got, idsOf(r2.h, r3.h)) {
		t.Errorf("relays to a client: %v", got)
	}
	if got := askRelays(t, r2.h, r1.h); !slices.Equal(got, idsOf(r3.h)) {
		t.Errorf("relays to r2 (the asker left out): %v", got)
	}
	if got := mustAsk(t, client, r1.h, fmt.Sprintf(`{"op":"find","peer":%q}`, client.ID())); got != `{"reserved":[],"mailbox":[]}` {
		t.Errorf("find a peer nowhere: %s", got)
	}

	r3.stop(t)
	waitFor(t, 3*time.Second, "a stopped relay is still offered", func() bool {
		return slices.Equal(linkedIDs(r1), idsOf(r2.h)) && slices.Equal(linkedIDs(r2), idsOf(r1.h))
	})
	if got := askRelays(t, client, r1.h); !slices.Equal(got, idsOf(r2.h)) {
		t.Errorf("relays after r3 stopped: %v", got)
	}
}

// "find" asks the linked relays: each answers for itself, and a linked
// relay asking gets one hop only.
func TestFindAcrossRelays(t *testing.T) {
	p := randomID(t)
	is := func(id peer.ID) bool { return id == p }
	r1 := startRelay(t, Options{})
	r2 := startRelay(t, Options{KeepsMailFor: is}, r1)
	r3 := startRelay(t, Options{Reserved: is}, r1)
	client := newHost(t)
	waitFor(t, 10*time.Second, "r1 not linked with r2 and r3", func() bool {
		return len(linkedIDs(r1)) == 2
	})

	before := r1.links.Lookups()
	got := mustJSON(t, mustAsk(t, client, r1.h, fmt.Sprintf(`{"op":"find","peer":%q}`, p)))
	if want := p2pStrings(r3.h); !slices.Equal(got["reserved"], want) {
		t.Errorf("reserved: %v, want r3's %v", got["reserved"], want)
	}
	if want := p2pStrings(r2.h); !slices.Equal(got["mailbox"], want) {
		t.Errorf("mailbox: %v, want r2's %v", got["mailbox"], want)
	}
	if n := r1.links.Lookups() - before; n != 1 {
		t.Errorf("r1 counted %d lookups, want 1", n)
	}

	// r3 holds p, but r2 is linked with r1: r1 answers for itself only
	if got := mustAsk(t, r2.h, r1.h, fmt.Sprintf(`{"op":"find","peer":%q}`, p)); got != `{"reserved":[],"mailbox":[]}` {
		t.Errorf("find asked by a linked relay went past r1: %s", got)
	}
	// and r3 answers for itself, with its own addresses
	got = mustJSON(t, mustAsk(t, client, r3.h, fmt.Sprintf(`{"op":"find","peer":%q}`, p)))
	if !slices.Equal(got["reserved"], p2pStrings(r3.h)) {
		t.Errorf("r3's own answer: %v", got)
	}
}

// A linked relay's answer naming other relays' addresses is filtered.
func TestFindKeepsOnlyTheAnsweringRelaysAddresses(t *testing.T) {
	p := randomID(t)
	r1 := startRelay(t, Options{})
	client := newHost(t)
	fake := newHost(t)
	other := "/ip4/127.0.0.1/tcp/1/p2p/" + randomID(t).String()
	fakeAddr := p2pStrings(fake)[0]
	fake.SetStreamHandler(ProtocolID, func(s network.Stream) {
		defer s.Close()
		b, err := msgio.NewVarintReaderSize(s, maxMessageBytes).ReadMsg()
		if err != nil {
			_ = s.Reset()
			return
		}
		m, err := parseMessage(b)
		if err != nil {
			_ = s.Reset()
			return
		}
		answer := `{"relays":[]}`
		if op, _ := m.str("op"); op == "find" {
			answer = fmt.Sprintf(`{"reserved":[%q,%q,"junk",%q],"mailbox":[%q]}`,
				other, fakeAddr, fakeAddr+"/p2p-circuit/p2p/"+p.String(), other)
		}
		_ = msgio.NewVarintWriter(s).WriteMsg([]byte(answer))
	})
	if got := mustAsk(t, fake, r1.h, string(encodeJSON(linkRequest{Op: "link", Addrs: p2pStrings(fake)}))); got != `{"relays":[]}` {
		t.Fatalf("link: %s", got)
	}
	waitFor(t, 5*time.Second, "r1 did not link back with the fake relay", func() bool {
		return slices.Equal(linkedIDs(r1), idsOf(fake))
	})
	got := mustAsk(t, client, r1.h, fmt.Sprintf(`{"op":"find","peer":%q}`, p))
	if want := fmt.Sprintf(`{"reserved":[%q],"mailbox":[]}`, fakeAddr); got != want {
		t.Errorf("find: %s, want %s", got, want)
	}
}

// Bad requests get {"error"} or a closed stream, change nothing, and the
// relay keeps serving.
func TestBadRequests(t *testing.T) {
	r1 := startRelay(t, Options{})
	r2 := startRelay(t, Options{}, r1)
	client := newHost(t)
	waitFor(t, 5*time.Second, "r1 and r2 not linked", func() bool {
		return len(r1.links.Linked()) > 0 && len(r2.links.Linked()) > 0
	})
	r2Addrs, _ := json.Marshal(p2pStrings(r2.h))
	const ownAddrs = `{"error":"link: addrs must be the linking relay's own addresses"}`
	const notPeer = `{"error":"find: peer must be a peer ID"}`
	for request, want := range map[string]string{
		`{"op":"nope"}`: `{"error":"unknown op \"nope\""}`,
		`{}`:            `{"error":"unknown op \"undefined\""}`,
		`{"op":7}`:      `{"error":"unknown op \"7\""}`,
		`{"op":"` + strings.Repeat("x", 50) + `"}`: `{"error":"unknown op \"` + strings.Repeat("x", 40) + `\""}`,
		`{"op":"find","peer":"not a peer"}`:        notPeer,
		`{"op":"find"}`:                            notPeer,
		`{"op":"find","peer":7}`:                   notPeer,
		// a node may link only as itself: addresses of another relay are refused
		`{"op":"link","addrs":` + string(r2Addrs) + `}`: ownAddrs,
		`{"op":"link","addrs":"x"}`:                     ownAddrs,
		`{"op":"link"}`:                                 ownAddrs,
	} {
		if got := mustAsk(t, client, r1.h, request); got != want {
			t.Errorf("%s: got %s, want %s", request, got, want)
		}
	}
	for _, bad := range [][]byte{[]byte(`{`), []byte(`[]`), []byte(`null`), []byte(`"x"`), nil, make([]byte, maxMessageBytes+1)} {
		if got, err := rawAsk(client, r1.h, bad); err == nil {
			t.Errorf("%.20q: answered %s, want the stream closed", bad, got)
		}
	}
	if got := askRelays(t, client, r1.h); !slices.Equal(got, idsOf(r2.h)) {
		t.Errorf("relays after bad requests: %v, want r2 alone", got)
	}
	if got := linkedIDs(r1); !slices.Equal(got, idsOf(r2.h)) {
		t.Errorf("a refused link changed the links: %v", got)
	}
	if r1.links.Lookups() != 0 {
		t.Errorf("refused finds counted as lookups: %d", r1.links.Lookups())
	}
}

// A relay we were told of and cannot reach is forgotten after forgetAfter;
// a configured one is kept.
func TestUnreachableRelayIsForgotten(t *testing.T) {
	// restored by the first cleanup, so after the relays' goroutines are gone
	retryMin, retryMax, forget, refresh := linkRetryMin, linkRetryMax, forgetAfter, linkRefresh
	t.Cleanup(func() { linkRetryMin, linkRetryMax, forgetAfter, linkRefresh = retryMin, retryMax, forget, refresh })
	linkRetryMin, linkRetryMax, forgetAfter, linkRefresh = 20*time.Millisecond, 100*time.Millisecond, 500*time.Millisecond, 200*time.Millisecond

	r1 := startRelay(t, Options{})
	r2 := startRelay(t, Options{}, r1)
	r3 := startRelay(t, Options{}, r1)
	waitFor(t, 5*time.Second, "not a full mesh", func() bool {
		return len(r1.links.Linked()) > 0 && len(linkedIDs(r2)) == 2 && len(linkedIDs(r3)) == 2
	})
	known := func(r relay, id peer.ID) bool {
		r.links.mu.Lock()
		defer r.links.mu.Unlock()
		return r.links.lookup(id) != nil
	}

	r3.stop(t)
	start := time.Now()
	waitFor(t, 5*time.Second, "r3 not forgotten", func() bool {
		return !known(r1, r3.h.ID()) && !known(r2, r3.h.ID())
	})
	if took := time.Since(start); took < forgetAfter {
		t.Errorf("r3 forgotten after %v, before forgetAfter %v", took, forgetAfter)
	}

	r1.stop(t)
	time.Sleep(3 * forgetAfter)
	if !known(r2, r1.h.ID()) {
		t.Errorf("r2 forgot r1, one of its RELAY_PEERS")
	}
}

// Close returns promptly, even with a request being answered, and leaves no
// goroutine of this package running.
func TestCloseLeavesNothingRunning(t *testing.T) {
	r1 := startRelay(t, Options{})
	r2 := startRelay(t, Options{}, r1)
	client := newHost(t)
	waitFor(t, 5*time.Second, "r1 and r2 not linked", func() bool {
		return len(r1.links.Linked()) > 0 && len(r2.links.Linked()) > 0
	})
	// a request that never comes: r1's handler waits for it
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := client.Connect(ctx, peer.AddrInfo{ID: r1.h.ID(), Addrs: r1.h.Addrs()}); err != nil {
		t.Fatal(err)
	}
	s, err := client.NewStream(ctx, r1.h.ID(), ProtocolID)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Reset()
	_, _ = s.Write([]byte{5}) // a length, then nothing
	waitFor(t, 2*time.Second, "the request not being answered", func() bool {
		r1.links.mu.Lock()
		defer r1.links.mu.Unlock()
		return len(r1.links.inbound) == 1
	})

	closed := make(chan struct{})
	go func() {
		_ = r1.links.Close()
		_ = r2.links.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(time.Second):
		t.Fatal("Close did not return within 1 s")
	}
	if got, err := rawAsk(client, r1.h, []byte(`{"op":"relays"}`)); err == nil {
		t.Errorf("a closed relay answered %s", got)
	}
	waitFor(t, time.Second, "goroutines of routing.(*Links) left running", func() bool {
		buf := make([]byte, 1<<20)
		return !strings.Contains(string(buf[:runtime.Stack(buf, true)]), "routing.(*Links)")
	})
}

func TestStartRefusesABadPeer(t *testing.T) {
	h := newHost(t)
	if _, err := Start(h, Options{Peers: []ma.Multiaddr{h.Addrs()[0]}}); err == nil {
		t.Fatal("started with a peer address without /p2p/<id>")
	}
}
