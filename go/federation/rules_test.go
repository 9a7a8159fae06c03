//go:build !js

package federation_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"

	"hearth/go/identity"
	"hearth/go/server"
)

// Two servers change the same state while cut off from each other; once
// reconnected, all three servers resolve the fork to the same state (state
// resolution v2, and v2.1 in room version 12).
func TestForkResolvedTheSameEverywhere(t *testing.T) {
	for _, version := range []string{"11", "12"} {
		t.Run("v"+version, func(t *testing.T) { testForkResolved(t, version) })
	}
}

func testForkResolved(t *testing.T, version string) {
	n := newNetwork(t)
	nodes := n.nodes(3)
	a, b, c := nodes[0], nodes[1], nodes[2]
	alice, bob, carol := a.register("alice"), b.register("bob"), c.register("carol")
	roomID := alice.createRoom(map[string]any{
		"preset": "public_chat", "topic": "original", "room_version": version,
		"power_level_content_override": map[string]any{"events": map[string]int{"m.room.topic": 0, "m.room.power_levels": 100}},
	})
	bob.join(roomID, a)
	carol.join(roomID, a)

	n.setOnline(b, false, nodes)
	fromA := alice.must("PUT", "/_matrix/client/v3/rooms/"+url.PathEscape(roomID)+"/state/m.room.topic", map[string]any{"topic": "A's topic"}).str("event_id")
	fromB := bob.must("PUT", "/_matrix/client/v3/rooms/"+url.PathEscape(roomID)+"/state/m.room.topic", map[string]any{"topic": "B's topic"}).str("event_id")
	n.setOnline(b, true, nodes)

	users := []*user{alice, bob, carol}
	for _, u := range users {
		eventually(t, u.id+" to hold both topics", func() bool { return hasAll(u.eventIDs(roomID), fromA, fromB) })
	}
	topics := map[string]bool{}
	for _, u := range users {
		topics[u.state(roomID, "m.room.topic", "").str("topic")] = true
	}
	if len(topics) != 1 || topics["original"] {
		t.Fatalf("servers disagree on the topic after the fork: %v", topics)
	}
	// The next event merges the fork and reaches everyone.
	carol.say(roomID, "after the fork")
	for _, u := range users {
		eventually(t, u.id+" to see the merge", func() bool { return slices.Contains(u.texts(roomID), "after the fork") })
	}
}

// forger builds events as a server would, signed with any key under any name.
type forger struct {
	t      *testing.T
	roomID string
	state  map[string]string // "type|state_key" → event ID, from the victim's view
	prev   string
}

func newForger(t *testing.T, victim *user, roomID string) *forger {
	f := &forger{t: t, roomID: roomID, state: map[string]string{}}
	r := victim.must("GET", "/_matrix/client/v3/rooms/"+url.PathEscape(roomID)+"/state", nil)
	var events []struct {
		Type     string `json:"type"`
		StateKey string `json:"state_key"`
		EventID  string `json:"event_id"`
	}
	if err := json.Unmarshal(r.raw, &events); err != nil {
		t.Fatal(err)
	}
	for _, ev := range events {
		f.state[ev.Type+"|"+ev.StateKey] = ev.EventID
	}
	ids := victim.eventIDs(roomID)
	f.prev = ids[len(ids)-1]
	return f
}

// event builds an event of sender with the auth events the rules would pick,
// signed by key under the name signer.
func (f *forger) event(signer spec.ServerName, key identity.Identity, sender, evType string, stateKey *string, content any) gomatrixserverlib.PDU {
	f.t.Helper()
	v := gomatrixserverlib.MustGetRoomVersion(gomatrixserverlib.RoomVersionV11)
	auth := []string{f.state["m.room.create|"], f.state["m.room.power_levels|"]}
	if m, ok := f.state["m.room.member|"+sender]; ok {
		auth = append(auth, m)
	}
	proto := gomatrixserverlib.ProtoEvent{SenderID: sender, RoomID: f.roomID, Type: evType, StateKey: stateKey,
		PrevEvents: []string{f.prev}, AuthEvents: auth, Depth: 100, Version: v}
	if err := proto.SetContent(content); err != nil {
		f.t.Fatal(err)
	}
	ev, err := v.NewEventBuilderFromProtoEvent(&proto).Build(time.Now(), signer, identity.KeyID, key.Key)
	if err != nil {
		f.t.Fatal(err)
	}
	return ev
}

// Forged events are refused and never shown: a bad signature, a sender who is
// not a member, a power-level change without power, an event of another
// server's user, an event authorised by a rejected one. A wrong content hash
// gets the event redacted, so the forged content never shows.
func TestForgedEventsAreRejected(t *testing.T) {
	n, nodes, alice, carol, roomID := aliceAndCarolInARoom(t)
	a, c := nodes[0], nodes[1]

	cID := c.srv.Identity
	stranger, err := identity.Generate(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	f := newForger(t, alice, roomID)
	empty := ""
	msg := func(body string) map[string]any { return map[string]any{"msgtype": "m.text", "body": body} }
	powerGrab := f.event(c.name, cID, carol.id, spec.MRoomPowerLevels, &empty, map[string]any{"users": map[string]int{carol.id: 100}})
	// Authorised by powerGrab, which will be rejected.
	f.state["m.room.power_levels|"] = powerGrab.EventID()
	onRejected := f.event(c.name, cID, carol.id, spec.MRoomName, &empty, map[string]any{"name": "forged on a rejected event"})
	f.state["m.room.power_levels|"] = newForger(t, alice, roomID).state["m.room.power_levels|"]
	tampered := f.event(c.name, cID, carol.id, "m.room.message", nil, msg("original"))
	tamperedJSON := strings.Replace(string(tampered.JSON()), `"original"`, `"tampered"`, 1)

	cases := []struct {
		name    string
		raw     json.RawMessage
		dropped bool // refused outright (signature), rather than stored as rejected
	}{
		{"bad signature", f.event(c.name, stranger, carol.id, "m.room.message", nil, msg("bad signature")).JSON(), true},
		{"non-member sender", f.event(c.name, cID, "@nobody:"+string(c.name), "m.room.message", nil, msg("not a member")).JSON(), false},
		{"power levels without power", powerGrab.JSON(), false},
		{"user of another server", f.event(c.name, cID, alice.id, "m.room.message", nil, msg("I am alice")).JSON(), true},
		{"authorised by a rejected event", onRejected.JSON(), false},
	}
	genuine := f.event(c.name, cID, carol.id, "m.room.message", nil, msg("genuine"))
	var pdus []json.RawMessage
	for _, tc := range cases {
		pdus = append(pdus, tc.raw)
	}
	pdus = append(pdus, json.RawMessage(tamperedJSON), genuine.JSON())
	r := n.signedRequest(cID, a.name, "PUT", "/_matrix/federation/v1/send/forged", map[string]any{
		"origin": c.name, "origin_server_ts": time.Now().UnixMilli(), "pdus": pdus,
	})
	if r.status != http.StatusOK {
		t.Fatalf("send: %d %s", r.status, r.raw)
	}
	results, _ := r.body["pdus"].(map[string]any)
	v := gomatrixserverlib.MustGetRoomVersion(gomatrixserverlib.RoomVersionV11)
	shown := alice.eventIDs(roomID)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := v.NewEventFromUntrustedJSON(tc.raw)
			if err != nil {
				t.Fatal(err)
			}
			res, _ := results[ev.EventID()].(map[string]any)
			if res["error"] == nil {
				t.Errorf("accepted: %v", results[ev.EventID()])
			}
			if slices.Contains(shown, ev.EventID()) {
				t.Errorf("shown to alice")
			}
		})
	}
	if res, _ := results[genuine.EventID()].(map[string]any); res == nil || res["error"] != nil {
		t.Fatalf("genuine event: %v", results[genuine.EventID()])
	}
	texts := alice.texts(roomID)
	if !slices.Contains(texts, "genuine") {
		t.Fatalf("genuine message not shown: %v", texts)
	}
	for _, s := range texts {
		if s != "genuine" && s != "" { // "": the tampered event, shown redacted
			t.Errorf("alice sees forged text %q", s)
		}
	}
	for _, ev := range alice.timeline(roomID) {
		if ev["event_id"] == tampered.EventID() && len(ev["content"].(map[string]any)) != 0 {
			t.Errorf("the event with a wrong content hash shows content %v", ev["content"])
		}
	}
	pl := alice.state(roomID, "m.room.power_levels", "")
	if users, _ := pl.body["users"].(map[string]any); users[carol.id] != nil {
		t.Fatalf("carol's forged power level took effect: %v", users)
	}
	if name := alice.state(roomID, "m.room.name", ""); name.status == http.StatusOK {
		t.Fatalf("room name set by an event on a rejected one: %s", name.raw)
	}
	// Sync shows none of it either.
	sync := alice.must("GET", "/_matrix/client/v3/sync", nil)
	for _, forged := range []string{"bad signature", "not a member", "I am alice", "forged on a rejected event", "tampered"} {
		if strings.Contains(string(sync.raw), forged) {
			t.Errorf("sync shows %q", forged)
		}
	}
}

// A retried transaction is answered as the first time and applied once.
func TestSendTransactionIsIdempotent(t *testing.T) {
	n, nodes, alice, carol, roomID := aliceAndCarolInARoom(t)
	a, c := nodes[0], nodes[1]

	f := newForger(t, alice, roomID)
	once := f.event(c.name, c.srv.Identity, carol.id, "m.room.message", nil, map[string]any{"msgtype": "m.text", "body": "once"})
	other := f.event(c.name, c.srv.Identity, carol.id, "m.room.message", nil, map[string]any{"msgtype": "m.text", "body": "same txn ID, other body"})
	txn := func(ev gomatrixserverlib.PDU) map[string]any {
		return map[string]any{"origin": c.name, "origin_server_ts": time.Now().UnixMilli(), "pdus": []json.RawMessage{ev.JSON()}}
	}
	first := n.signedRequest(c.srv.Identity, a.name, "PUT", "/_matrix/federation/v1/send/txn1", txn(once))
	again := n.signedRequest(c.srv.Identity, a.name, "PUT", "/_matrix/federation/v1/send/txn1", txn(once))
	changed := n.signedRequest(c.srv.Identity, a.name, "PUT", "/_matrix/federation/v1/send/txn1", txn(other))
	if first.status != 200 || string(first.raw) != string(again.raw) || string(first.raw) != string(changed.raw) {
		t.Fatalf("answers differ: %s / %s / %s", first.raw, again.raw, changed.raw)
	}
	if got := alice.texts(roomID); !slices.Equal(got, []string{"once"}) {
		t.Fatalf("alice sees %v", got)
	}
}

// Every federation request must be X-Matrix signed by its origin for this
// server; otherwise 401 M_UNAUTHORIZED. Keys and version are public.
func TestRequestAuthentication(t *testing.T) {
	n := newNetwork(t)
	nodes := n.nodes(2)
	a, b := nodes[0], nodes[1]
	impostor, err := identity.Generate(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	const p = "/_matrix/federation/v1/publicRooms"
	sign := func(id identity.Identity, origin, dest spec.ServerName, body any) *http.Request {
		fr := newRequest(t, "PUT", origin, dest, "/_matrix/federation/v1/send/auth-test", body)
		if err := fr.Sign(origin, identity.KeyID, id.Key); err != nil {
			t.Fatal(err)
		}
		req, err := fr.HTTPRequest()
		if err != nil {
			t.Fatal(err)
		}
		return req
	}
	txn := map[string]any{"origin": b.name, "origin_server_ts": 1, "pdus": []any{}}
	tamperedBody := sign(b.srv.Identity, b.name, a.name, txn)
	tamperedBody.Body = ioNopCloser(`{"origin":"` + string(b.name) + `","origin_server_ts":2,"pdus":[]}`)
	unsigned, _ := http.NewRequest("GET", "matrix-federation://"+string(a.name)+p, nil)

	cases := []struct {
		name   string
		req    *http.Request
		status int
	}{
		{"signed by the origin", sign(b.srv.Identity, b.name, a.name, txn), http.StatusOK},
		{"no signature", unsigned, http.StatusUnauthorized},
		{"signed with another key", sign(impostor, b.name, a.name, txn), http.StatusUnauthorized},
		{"addressed to another server", sign(b.srv.Identity, b.name, impostor.ServerName, txn), http.StatusUnauthorized},
		{"body changed after signing", tamperedBody, http.StatusUnauthorized},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.req.URL.Host = string(a.name)
			r := n.send(tc.req)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.raw)
			}
			if tc.status == http.StatusUnauthorized && r.str("errcode") != "M_UNAUTHORIZED" {
				t.Fatalf("errcode %q", r.str("errcode"))
			}
		})
	}

	t.Run("signed by one server, carried from another peer", func(t *testing.T) {
		// The transport says who it carried the request from (libp2p's
		// remote peer); it must be the signer.
		guarded := n.nodeWith(func(cfg *server.Config) {
			cfg.RequestPeer = func(context.Context) string { return string(impostor.ServerName) }
		})
		req := sign(b.srv.Identity, b.name, guarded.name, txn)
		req.URL.Host = string(guarded.name)
		if r := n.send(req); r.status != http.StatusUnauthorized || r.str("errcode") != "M_UNAUTHORIZED" {
			t.Fatalf("status %d: %s", r.status, r.raw)
		}
	})

	t.Run("keys and version are public", func(t *testing.T) {
		for _, path := range []string{"/_matrix/key/v2/server", "/_matrix/federation/v1/version"} {
			r := a.do("GET", path, "", nil)
			if r.status != http.StatusOK {
				t.Fatalf("%s: %d %s", path, r.status, r.raw)
			}
		}
		r := a.do("GET", "/_matrix/key/v2/server", "", nil)
		pub, _ := identity.PublicKey(a.name)
		if err := gomatrixserverlib.VerifyJSON(string(a.name), identity.KeyID, pub, r.raw); err != nil {
			t.Fatalf("key response not signed by the server's key: %v", err)
		}
		if until, _ := r.body["valid_until_ts"].(float64); int64(until) <= time.Now().UnixMilli() {
			t.Fatalf("valid_until_ts %v is not in the future", r.body["valid_until_ts"])
		}
	})
}

// A server that has not heard of a ban cannot slip the banned user's message
// in: allowed by the state before it, refused by current state, it is kept
// hidden (soft failure).
func TestBannedUsersMessageFromStaleServerStaysHidden(t *testing.T) {
	n, nodes, alice, carol, roomID := aliceAndCarolInARoom(t)
	a, c := nodes[0], nodes[1]

	n.setOnline(c, false, nodes)
	alice.must("POST", "/_matrix/client/v3/rooms/"+url.PathEscape(roomID)+"/ban", map[string]any{"user_id": carol.id})
	carol.say(roomID, "sent before hearing of the ban")
	n.setOnline(c, true, nodes)

	eventually(t, "carol's server to learn of the ban", func() bool {
		return carol.do("GET", "/_matrix/client/v3/rooms/"+url.PathEscape(roomID)+"/messages", nil).status == http.StatusForbidden
	})
	alice.say(roomID, "after the ban")
	eventually(t, "carol's server to deliver her message", func() bool {
		pending, err := c.srv.Federation.Pending(context.Background(), a.name)
		return err == nil && pending == 0
	})
	if got := alice.texts(roomID); slices.Contains(got, "sent before hearing of the ban") {
		t.Fatalf("alice sees the banned user's message: %v", got)
	}
}

// Issue 11, defect 1: a banned user's server sends a live event whose parent
// this server lacks, a message "from before the ban". Fetched to fill the gap,
// the parent gets the same current-state check as the live event: it is kept
// hidden, from the timeline and from /sync.
func TestBannedUsersGapFilledMessageStaysHidden(t *testing.T) {
	n := newNetwork(t)
	a := n.node(fastQueue)
	// Carol's server keeps only the newest PDU for an absent peer, so her
	// first message reaches alice's server only through get_missing_events.
	keepOne := fastQueue
	keepOne.MaxPDUs = 1
	c := n.node(keepOne)
	nodes := []*node{a, c}
	alice, carol, roomID := inARoom(t, a, c, "alice", "carol")

	n.setOnline(c, false, nodes)
	alice.must("POST", "/_matrix/client/v3/rooms/"+url.PathEscape(roomID)+"/ban", map[string]any{"user_id": carol.id})
	carol.say(roomID, "from before the ban")
	carol.say(roomID, "the live one")
	n.setOnline(c, true, nodes)

	eventually(t, "carol's server to deliver the live event", func() bool {
		pending, err := c.srv.Federation.Pending(context.Background(), a.name)
		return err == nil && pending == 0
	})
	eventually(t, "carol's server to learn of the ban", func() bool {
		return carol.do("GET", "/_matrix/client/v3/rooms/"+url.PathEscape(roomID)+"/messages", nil).status == http.StatusForbidden
	})
	for _, text := range []string{"from before the ban", "the live one"} {
		if got := alice.texts(roomID); slices.Contains(got, text) {
			t.Errorf("alice's timeline shows %q: %v", text, got)
		}
		if sync := alice.must("GET", "/_matrix/client/v3/sync", nil); strings.Contains(string(sync.raw), text) {
			t.Errorf("alice's /sync shows %q", text)
		}
	}
}

// aliceAndCarolInARoom is where the rule tests start: two servers a and c,
// alice on a and carol on c, both joined to alice's public room.
func aliceAndCarolInARoom(t *testing.T) (n *network, nodes []*node, alice, carol *user, roomID string) {
	n = newNetwork(t)
	nodes = n.nodes(2)
	alice, carol, roomID = inARoom(t, nodes[0], nodes[1], "alice", "carol")
	return n, nodes, alice, carol, roomID
}

// inARoom registers first on a and second on b, both joined to first's
// public room once it returns.
func inARoom(t *testing.T, a, b *node, first, second string) (u1, u2 *user, roomID string) {
	u1, u2 = a.register(first), b.register(second)
	roomID = u1.createRoom(map[string]any{"preset": "public_chat"})
	u2.join(roomID, a)
	eventually(t, first+" to see "+second, func() bool { return u1.state(roomID, "m.room.member", u2.id).str("membership") == "join" })
	return u1, u2, roomID
}
