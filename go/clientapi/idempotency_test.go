//go:build !js

package clientapi_test

import (
	"testing"
)

// countEvents is the number of events /messages finds in a room (up to 100).
func (ts *testServer) countEvents(token, roomID string) int {
	ts.t.Helper()
	r := ts.do("GET", roomPath(roomID)+"/messages?dir=b&limit=100", token, nil)
	ts.expect(r, 200, "")
	chunk, _ := r.body["chunk"].([]any)
	return len(chunk)
}

// Setting state to the content it already has, or joining a room one is in,
// returns the existing event ID and adds no event (the reading of
// spec 1.11 §"PUT /rooms/{roomId}/state/…" and "POST /rooms/{roomId}/join",
// as the reference servers behave).
func TestUnchangedStateAndJoinAddNoEvent(t *testing.T) {
	ts := newServer(t)
	alice := ts.register("alice", "pw")
	bob := ts.register("bob", "pw")
	roomID := ts.createRoom(alice, map[string]any{"preset": "public_chat"})

	first := ts.do("PUT", roomPath(roomID)+"/state/m.room.topic", alice, map[string]any{"topic": "tea", "x": []int{1, 2}})
	ts.expect(first, 200, "")
	n := ts.countEvents(alice, roomID)
	// Same content, keys in another order: canonical JSON is equal.
	again := ts.do("PUT", roomPath(roomID)+"/state/m.room.topic", alice, `{"x":[1,2],"topic":"tea"}`)
	ts.expect(again, 200, "")
	if again.str("event_id") != first.str("event_id") || ts.countEvents(alice, roomID) != n {
		t.Fatalf("same state again: %s then %s, %d events then %d", first.raw, again.raw, n, ts.countEvents(alice, roomID))
	}
	changed := ts.do("PUT", roomPath(roomID)+"/state/m.room.topic", alice, map[string]any{"topic": "coffee"})
	if changed.str("event_id") == first.str("event_id") || ts.countEvents(alice, roomID) != n+1 {
		t.Fatalf("changed state: %s", changed.raw)
	}

	ts.expect(ts.do("POST", roomPath(roomID)+"/join", bob, nil), 200, "")
	member := ts.do("GET", roomPath(roomID)+"/state/m.room.member/@bob:"+ts.name+"?format=event", bob, nil)
	n = ts.countEvents(bob, roomID)
	ts.expect(ts.do("POST", roomPath(roomID)+"/join", bob, nil), 200, "")
	ts.expect(ts.do("POST", v3+"/join/"+roomID, bob, nil), 200, "")
	after := ts.do("GET", roomPath(roomID)+"/state/m.room.member/@bob:"+ts.name+"?format=event", bob, nil)
	if after.str("event_id") != member.str("event_id") || ts.countEvents(bob, roomID) != n {
		t.Fatalf("join when joined made a new event: %s then %s", member.raw, after.raw)
	}
}

// Spec 1.11 §"Transaction identifiers": a transaction ID is scoped to the
// device and the request path: the same ID in another room, or from another
// device of the same user, is a new event; the same ID again in the same
// room from the same device is the first event.
func TestTransactionIDsScopedPerDeviceAndRoom(t *testing.T) {
	ts := newServer(t)
	phone := ts.register("alice", "pw")
	login := ts.do("POST", v3+"/login", "", map[string]any{
		"type": "m.login.password", "identifier": map[string]any{"type": "m.id.user", "user": "alice"}, "password": "pw",
	})
	ts.expect(login, 200, "")
	laptop := login.str("access_token")
	kitchen := ts.createRoom(phone, nil)
	garden := ts.createRoom(phone, nil)

	first := ts.send(phone, kitchen, "same", "hello")
	if again := ts.send(phone, kitchen, "same", "hello"); again != first {
		t.Fatalf("retransmission made %s, want %s", again, first)
	}
	if other := ts.send(phone, garden, "same", "hello"); other == first {
		t.Fatal("the same transaction ID in another room returned the first room's event")
	}
	if other := ts.send(laptop, kitchen, "same", "hello"); other == first {
		t.Fatal("another device's transaction ID returned the first device's event")
	}
}
