//go:build !js

package federation_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/fclient"
	"github.com/matrix-org/gomatrixserverlib/spec"

	"hearth/go/identity"
	"hearth/go/mailbox"
	"hearth/go/server"
)

// Offline delivery (issue 10): the three rows of the issue, by mailbox, by
// catch-up from another member, and by the queue when both are online.
func TestOfflineDelivery(t *testing.T) {
	cases := []struct {
		name        string
		relay       bool // servers have mailboxes
		carol       bool // a third server is in the room and receives the message
		aliceLeaves bool // alice's server is offline by the time bob's returns
	}{
		{"bob returns while alice is online", false, false, false},
		{"bob returns while alice is online, with mailboxes", true, false, false},
		{"carol got it, alice left: catch-up from carol alone", false, true, true},
		{"carol got it, alice left: with mailboxes", true, true, true},
		{"two servers, alice left: mailbox", true, false, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := newNetwork(t)
			var relay *memRelay
			if tc.relay {
				relay = n.withRelay()
			}
			nodes := n.nodes(map[bool]int{false: 2, true: 3}[tc.carol])
			a, b := nodes[0], nodes[1]
			alice, bob, roomID := inARoom(t, a, b, "alice", "bob")
			var carol *user
			if tc.carol {
				carol = nodes[2].register("carol")
				carol.join(roomID, a)
				eventually(t, "bob's server to see carol join", func() bool { return bob.state(roomID, "m.room.member", carol.id).str("membership") == "join" })
			}

			n.setOnline(b, false, nodes)
			const text = "sent while bob was away"
			alice.say(roomID, text)
			if carol != nil {
				eventually(t, "carol to get it", func() bool { return slices.Contains(carol.texts(roomID), text) })
			}
			if tc.aliceLeaves {
				if relay != nil {
					eventually(t, "alice's server to deposit it", func() bool { return len(relay.held()) > 0 })
				}
				n.setOnline(a, false, nodes)
			}
			returned := time.Now()
			n.setOnline(b, true, nodes)
			eventually(t, "bob to get it", func() bool { return slices.Contains(bob.texts(roomID), text) })
			t.Logf("arrived %v after bob's server returned", time.Since(returned).Round(time.Millisecond))
			if got := bob.texts(roomID); len(got) != 1 {
				t.Fatalf("bob sees %v", got)
			}
		})
	}
}

// A transaction that cannot reach its destination is deposited; its rows
// stay queued, are not sent again (the next deposit carries only what came
// after), and leave the queue when the mailbox says it was delivered.
func TestDepositedRowsLeaveQueueWhenDelivered(t *testing.T) {
	n := newNetwork(t)
	relay := n.withRelay()
	nodes := n.nodes(2)
	a, b := nodes[0], nodes[1]
	alice, bob, roomID := inARoom(t, a, b, "alice", "bob")

	n.setOnline(b, false, nodes)
	alice.say(roomID, "first")
	eventually(t, "the first deposit", func() bool { return len(relay.held()) == 1 })
	alice.say(roomID, "second")
	eventually(t, "the second deposit", func() bool { return len(relay.held()) == 2 })
	for i, m := range relay.held() {
		if got, want := textsIn(t, m.sealed, b.srv.Identity), []string{"first", "second"}[i:i+1]; !slices.Equal(got, want) {
			t.Fatalf("deposit %d (%s) carries %v, want %v", i, m.ref, got, want)
		}
	}
	if pending, _ := a.srv.Federation.Pending(context.Background(), b.name); pending != 2 {
		t.Fatalf("%d rows queued while in the mailbox, want 2", pending)
	}

	n.setOnline(b, true, nodes)
	eventually(t, "alice's queue to empty", func() bool {
		pending, err := a.srv.Federation.Pending(context.Background(), b.name)
		return err == nil && pending == 0
	})
	if got := bob.texts(roomID); !slices.Equal(got, []string{"first", "second"}) {
		t.Fatalf("bob sees %v", got)
	}
	if held := relay.held(); len(held) != 0 {
		t.Fatalf("relay still holds %d mails", len(held))
	}
}

// A backlog bigger than a deposit should be goes out in several, each near
// 1 MiB at most, in order.
func TestLargeBacklogIsDepositedInPieces(t *testing.T) {
	n := newNetwork(t)
	relay := n.withRelay()
	relay.set(time.Hour, mailbox.ErrNoMailbox) // let the backlog build up
	nodes := n.nodes(2)
	b := nodes[1]
	alice, bob, roomID := inARoom(t, nodes[0], b, "alice", "bob")

	n.setOnline(b, false, nodes)
	var sent []string
	for i := range 20 {
		text := fmt.Sprintf("%02d %s", i, strings.Repeat("x", 60_000))
		alice.say(roomID, text)
		sent = append(sent, text)
	}
	relay.set(time.Hour, nil)
	var deposited []string
	eventually(t, "the whole backlog deposited", func() bool {
		deposited = nil
		for _, m := range relay.held() {
			deposited = append(deposited, textsIn(t, m.sealed, b.srv.Identity)...)
		}
		return len(deposited) == len(sent)
	})
	if !slices.Equal(deposited, sent) {
		t.Fatalf("deposited out of order")
	}
	held := relay.held()
	for _, m := range held {
		if len(m.sealed) > 1<<20+8<<10 {
			t.Errorf("deposit %s is %d bytes", m.ref, len(m.sealed))
		}
	}
	if len(held) < 2 {
		t.Fatalf("%d deposits for %d bytes", len(held), 20*60_000)
	}
	n.setOnline(b, true, nodes)
	eventually(t, "bob to get it all", func() bool { return len(bob.texts(roomID)) == len(sent) })
}

// Mail the relay dropped unread goes out again: on its expired notice, or
// when its expiry time passes without one.
func TestExpiredMailIsSentAgain(t *testing.T) {
	cases := []struct {
		name   string
		ttl    time.Duration
		expire func(*memRelay)
	}{
		{"expired notice", time.Hour, (*memRelay).expireAll},
		{"expiry time passed", 100 * time.Millisecond, func(*memRelay) {}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := newNetwork(t)
			relay := n.withRelay()
			relay.set(tc.ttl, nil)
			nodes := n.nodes(2)
			a, b := nodes[0], nodes[1]
			alice, bob, roomID := inARoom(t, a, b, "alice", "bob")

			n.setOnline(b, false, nodes)
			alice.say(roomID, "again")
			eventually(t, "the deposit", func() bool { return len(relay.held()) == 1 })
			first := relay.depositAttempts()
			tc.expire(relay)
			eventually(t, "a new deposit", func() bool { return relay.depositAttempts() > first && len(relay.held()) == 1 })

			relay.set(time.Hour, nil)
			n.setOnline(b, true, nodes)
			eventually(t, "alice's queue to empty", func() bool {
				pending, err := a.srv.Federation.Pending(context.Background(), b.name)
				return err == nil && pending == 0
			})
			if got := bob.texts(roomID); !slices.Equal(got, []string{"again"}) {
				t.Fatalf("bob sees %v", got)
			}
		})
	}
}

// A full mailbox refuses the deposit: the rows stay queued, retried with
// back-off, and go directly once the destination is back.
func TestFullMailboxKeepsRowsQueued(t *testing.T) {
	n := newNetwork(t)
	relay := n.withRelay()
	relay.set(time.Hour, mailbox.ErrMailboxFull)
	nodes := n.nodes(2)
	a, b := nodes[0], nodes[1]
	alice, bob, roomID := inARoom(t, a, b, "alice", "bob")

	n.setOnline(b, false, nodes)
	eventID := alice.say(roomID, "kept")
	eventually(t, "a few refused deposits", func() bool { return relay.depositAttempts() >= 3 })
	if pending, _ := a.srv.Federation.Pending(context.Background(), b.name); pending != 1 || len(relay.held()) != 0 {
		t.Fatalf("pending %d, relay holds %d", pending, len(relay.held()))
	}
	if state, _ := deliveryOf(alice, roomID, eventID, b.name); state != "queued" {
		t.Fatalf("state %q, want queued", state)
	}
	n.setOnline(b, true, nodes)
	eventually(t, "bob to get it directly", func() bool { return slices.Contains(bob.texts(roomID), "kept") })
}

// What comes out of an envelope is a live /send: a request not signed by the
// server that deposited it, for another server, sealed to another, or not a
// transaction at all is dropped, changes nothing and does not even use up
// its transaction ID. A genuine envelope handed over twice applies once.
func TestMailIsCheckedLikeLiveTransactions(t *testing.T) {
	_, nodes, alice, carol, roomID := aliceAndCarolInARoom(t)
	a, c := nodes[0], nodes[1]
	ctx := context.Background()
	stranger, err := identity.Generate(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	f := newForger(t, alice, roomID)
	message := func(text string) gomatrixserverlib.PDU {
		return f.event(c.name, c.srv.Identity, carol.id, "m.room.message", nil, map[string]any{"msgtype": "m.text", "body": text})
	}
	const txnID = "mail-1"
	send := func(text string, origin spec.ServerName) (string, any) {
		return "/_matrix/federation/v1/send/" + txnID, map[string]any{
			"origin": origin, "origin_server_ts": time.Now().UnixMilli(), "pdus": []json.RawMessage{message(text).JSON()}}
	}
	seal := func(signer identity.Identity, dest, sealTo spec.ServerName, method, path string, body any) []byte {
		fr := fclient.NewFederationRequest(method, signer.ServerName, dest, path)
		if body != nil {
			if err := fr.SetContent(body); err != nil {
				t.Fatal(err)
			}
		}
		if err := fr.Sign(signer.ServerName, identity.KeyID, signer.Key); err != nil {
			t.Fatal(err)
		}
		req, err := fr.HTTPRequest()
		if err != nil {
			t.Fatal(err)
		}
		sealed, err := mailbox.Seal(req, sealTo, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return sealed
	}
	carolAs := func(key identity.Identity) identity.Identity {
		return identity.Identity{Key: key.Key, ServerName: c.name}
	}

	forged := []struct {
		name   string
		from   spec.ServerName
		sealed []byte
	}{
		{"signed with another key", c.name, func() []byte {
			p, b := send("forged: another key", c.name)
			return seal(carolAs(stranger), a.name, a.name, "PUT", p, b)
		}()},
		{"deposited by another server", stranger.ServerName, func() []byte {
			p, b := send("forged: another depositor", c.name)
			return seal(c.srv.Identity, a.name, a.name, "PUT", p, b)
		}()},
		{"addressed to another server", c.name, func() []byte {
			p, b := send("forged: another destination", c.name)
			return seal(c.srv.Identity, stranger.ServerName, a.name, "PUT", p, b)
		}()},
		{"origin in the body is another", c.name, func() []byte {
			p, b := send("forged: another origin", a.name)
			return seal(c.srv.Identity, a.name, a.name, "PUT", p, b)
		}()},
		{"sealed to another server", c.name, func() []byte {
			p, b := send("forged: another recipient", c.name)
			return seal(c.srv.Identity, a.name, stranger.ServerName, "PUT", p, b)
		}()},
		{"not a transaction", c.name, seal(c.srv.Identity, a.name, a.name, "GET",
			"/_matrix/federation/v1/state/"+url.PathEscape(roomID)+"?event_id="+url.QueryEscape(f.prev), nil)},
		{"not an envelope", c.name, []byte("forged: plain bytes")},
	}
	for _, tc := range forged {
		t.Run(tc.name, func(t *testing.T) {
			if err := a.srv.Federation.ReceiveMail(ctx, tc.from, tc.sealed); err != nil {
				t.Fatalf("ReceiveMail = %v, want nil (dropped)", err)
			}
		})
	}
	for _, s := range alice.texts(roomID) {
		if strings.HasPrefix(s, "forged") {
			t.Fatalf("alice sees %q", s)
		}
	}

	p, b := send("genuine", c.name)
	genuine := seal(c.srv.Identity, a.name, a.name, "PUT", p, b)
	p, b = send("same transaction ID, other body", c.name)
	sameTxn := seal(c.srv.Identity, a.name, a.name, "PUT", p, b)
	for _, sealed := range [][]byte{genuine, genuine, sameTxn} {
		if err := a.srv.Federation.ReceiveMail(ctx, c.name, sealed); err != nil {
			t.Fatal(err)
		}
	}
	if got := alice.texts(roomID); !slices.Equal(got, []string{"genuine"}) {
		t.Fatalf("alice sees %v, want the genuine message once", got)
	}
}

// Delivery state through the client API: queued (no mailbox takes it),
// mailbox (deposited), delivered (the recipient took it); and its errors.
func TestDeliveryStateAPI(t *testing.T) {
	n := newNetwork(t)
	relay := n.withRelay()
	relay.set(time.Hour, mailbox.ErrNoMailbox)
	nodes := n.nodes(2)
	a, b := nodes[0], nodes[1]
	alice, _, roomID := inARoom(t, a, b, "alice", "bob")

	n.setOnline(b, false, nodes)
	eventID := alice.say(roomID, "where is it")
	eventually(t, "a refused deposit", func() bool { return relay.depositAttempts() > 0 })
	steps := []struct {
		state, waiting string
		then           func()
	}{
		{"queued", "queued", func() { relay.set(time.Hour, nil) }},
		{"mailbox", "mailbox", func() { n.setOnline(b, true, nodes) }},
		{"delivered", "", func() {}},
	}
	for _, step := range steps {
		eventually(t, "state "+step.state, func() bool {
			state, waiting := deliveryOf(alice, roomID, eventID, b.name)
			return state == step.state && waiting == step.waiting
		})
		step.then()
	}

	otherRoom := alice.createRoom(map[string]any{"preset": "private_chat"})
	inOtherRoom := alice.say(otherRoom, "elsewhere")
	outsider := a.register("outsider")
	path := "/_matrix/client/unstable/org.hearth.delivery/rooms/" + url.PathEscape(roomID) + "/events"
	many := url.Values{}
	for range 51 {
		many.Add("event_id", eventID)
	}
	cases := []struct {
		name, query string
		who         *user
		status      int
		errcode     string
	}{
		{"no event_id", "", alice, http.StatusBadRequest, "M_INVALID_PARAM"},
		{"51 event_id", many.Encode(), alice, http.StatusBadRequest, "M_INVALID_PARAM"},
		{"not an event ID", "event_id=nope", alice, http.StatusBadRequest, "M_INVALID_PARAM"},
		{"event of another room", "event_id=" + url.QueryEscape(inOtherRoom), alice, http.StatusNotFound, "M_NOT_FOUND"},
		{"unknown event", "event_id=%24nope", alice, http.StatusNotFound, "M_NOT_FOUND"},
		{"not joined", "event_id=" + url.QueryEscape(eventID), outsider, http.StatusForbidden, "M_FORBIDDEN"},
		{"no token", "event_id=" + url.QueryEscape(eventID), &user{node: a}, http.StatusUnauthorized, "M_MISSING_TOKEN"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.who.do("GET", path+"?"+tc.query, nil)
			if r.status != tc.status || r.str("errcode") != tc.errcode {
				t.Fatalf("%d %s, want %d %s", r.status, r.raw, tc.status, tc.errcode)
			}
		})
	}
}

// Catch-up asks a peer at most once per 30 s however often it reappears, in
// the background: PeerOnline never waits for it. latest_events answers only
// servers in the room.
func TestCatchUpIsBounded(t *testing.T) {
	n := newNetwork(t)
	clock := &offsetClock{}
	a := n.nodeWith(func(cfg *server.Config) { cfg.Now = clock.now })
	c := n.node(fastQueue)
	_, _, roomID := inARoom(t, a, c, "alice", "carol")

	var asked atomic.Int32
	release := make(chan struct{})
	var releaseOnce sync.Once
	t.Cleanup(func() { releaseOnce.Do(func() { close(release) }) })
	n.net.Register(c.name, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/org.hearth.catchup/latest_events/") {
			asked.Add(1)
			<-release // a slow peer
		}
		c.srv.ServeHTTP(w, r)
	}))

	start := time.Now()
	for range 3 {
		a.srv.Federation.PeerOnline(c.name)
	}
	if waited := time.Since(start); waited > 100*time.Millisecond {
		t.Fatalf("PeerOnline blocked for %v", waited)
	}
	eventually(t, "carol's server to be asked", func() bool { return asked.Load() == 1 })
	releaseOnce.Do(func() { close(release) })
	time.Sleep(50 * time.Millisecond)
	a.srv.Federation.PeerOnline(c.name)
	time.Sleep(50 * time.Millisecond)
	if got := asked.Load(); got != 1 {
		t.Fatalf("asked %d times within 30 s", got)
	}
	clock.advance(31 * time.Second)
	a.srv.Federation.PeerOnline(c.name)
	eventually(t, "carol's server to be asked again after 30 s", func() bool { return asked.Load() == 2 })

	latest := "/_matrix/federation/unstable/org.hearth.catchup/latest_events/" + url.PathEscape(roomID)
	r := n.signedRequest(c.srv.Identity, a.name, "GET", latest, nil)
	ids, _ := r.body["latest_events"].([]any)
	if r.status != http.StatusOK || len(ids) == 0 {
		t.Fatalf("latest_events for a member: %d %s", r.status, r.raw)
	}
	stranger, err := identity.Generate(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if r := n.signedRequest(stranger, a.name, "GET", latest, nil); r.status != http.StatusForbidden || r.str("errcode") != "M_FORBIDDEN" {
		t.Fatalf("latest_events for a stranger: %d %s", r.status, r.raw)
	}
}

// deliveryOf asks the delivery state API about one event: its state and
// where it waits for server ("" if not).
func deliveryOf(u *user, roomID, eventID string, server spec.ServerName) (state, waiting string) {
	r := u.must("GET", "/_matrix/client/unstable/org.hearth.delivery/rooms/"+url.PathEscape(roomID)+"/events?event_id="+url.QueryEscape(eventID), nil)
	var body struct {
		Events map[string]struct {
			State   string            `json:"state"`
			Waiting map[string]string `json:"waiting"`
		} `json:"events"`
	}
	if err := json.Unmarshal(r.raw, &body); err != nil {
		u.node.t.Fatal(err)
	}
	e := body.Events[eventID]
	return e.State, e.Waiting[string(server)]
}

// textsIn opens a deposited envelope as its recipient would and returns the
// message bodies of the transaction inside.
func textsIn(t *testing.T, sealed []byte, recipient identity.Identity) []string {
	t.Helper()
	req, err := mailbox.Open(sealed, recipient.Key)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(req.Body)
	var txn struct {
		PDUs []struct {
			Content struct {
				Body string `json:"body"`
			} `json:"content"`
		} `json:"pdus"`
	}
	if err := json.Unmarshal(raw, &txn); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range txn.PDUs {
		out = append(out, p.Content.Body)
	}
	return out
}

// offsetClock is the real time plus an offset the test advances.
type offsetClock struct{ offset atomic.Int64 }

func (c *offsetClock) now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *offsetClock) advance(d time.Duration) { c.offset.Add(int64(d)) }
