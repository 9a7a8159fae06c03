//go:build !js

package clientapi_test

import (
	"testing"
)

// Spec 1.11 §"POST /rooms/{roomId}/kick": the target must be in the room;
// kicking one who left or never joined is refused with 403.
func TestKickOfNonMemberRefused(t *testing.T) {
	ts := newServer(t)
	alice := ts.register("alice", "pw")
	bob := ts.register("bob", "pw")
	roomID := ts.createRoom(alice, map[string]any{"preset": "public_chat"})
	ts.expect(ts.do("POST", roomPath(roomID)+"/kick", alice, map[string]any{"user_id": "@bob:" + ts.name}), 403, "M_FORBIDDEN")
	ts.expect(ts.do("POST", roomPath(roomID)+"/join", bob, nil), 200, "")
	ts.expect(ts.do("POST", roomPath(roomID)+"/leave", bob, nil), 200, "")
	n := ts.countEvents(alice, roomID)
	ts.expect(ts.do("POST", roomPath(roomID)+"/kick", alice, map[string]any{"user_id": "@bob:" + ts.name}), 403, "M_FORBIDDEN")
	if ts.countEvents(alice, roomID) != n {
		t.Fatal("a refused kick added an event")
	}
}

// Issue 12: rejecting an invite to a room of this server that nobody is in
// any more works (spec 1.11 §"POST /rooms/{roomId}/leave": rejecting an invite).
func TestRejectInviteToEmptyRoom(t *testing.T) {
	ts := newServer(t)
	alice := ts.register("alice", "pw")
	bob := ts.register("bob", "pw")
	roomID := ts.createRoom(alice, map[string]any{"invite": []string{"@bob:" + ts.name}})
	ts.expect(ts.do("POST", roomPath(roomID)+"/leave", alice, nil), 200, "")
	ts.expect(ts.do("POST", roomPath(roomID)+"/leave", bob, nil), 200, "")
	sync := ts.do("GET", v3+"/sync", bob, nil)
	if get(sync.body, "rooms", "invite", roomID) != nil {
		t.Fatalf("the invite is still shown: %s", sync.raw)
	}
}

// Spec 1.11 §"POST /rooms/{roomId}/join": the body's reason, and keys the
// spec does not name, are kept in the member event.
func TestJoinBodyContentKept(t *testing.T) {
	ts := newServer(t)
	alice := ts.register("alice", "pw")
	bob := ts.register("bob", "pw")
	roomID := ts.createRoom(alice, map[string]any{"preset": "public_chat"})
	ts.expect(ts.do("POST", roomPath(roomID)+"/join", bob, map[string]any{"reason": "hello", "org.example.mood": "curious"}), 200, "")
	m := ts.do("GET", roomPath(roomID)+"/state/m.room.member/@bob:"+ts.name, bob, nil)
	if m.str("membership") != "join" || m.str("reason") != "hello" || m.str("org.example.mood") != "curious" {
		t.Fatalf("member event: %s", m.raw)
	}
	ts.expect(ts.do("POST", roomPath(roomID)+"/join", bob, map[string]any{"reason": 5}), 400, "M_BAD_JSON")
}
