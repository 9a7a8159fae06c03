//go:build !js

package clientapi_test

import (
	"net/url"
	"slices"
	"testing"
)

// Spec 1.11 §"GET /rooms/{roomId}/messages": 403 when the user may not read
// the room, which for a room the server does not know is 403 too (its
// existence is not leaked).
func TestMessagesOfUnknownRoomForbidden(t *testing.T) {
	ts := newServer(t)
	alice := ts.register("alice", "pw")
	ts.expect(ts.do("GET", roomPath("!nowhere:"+ts.name)+"/messages?dir=b", alice, nil), 403, "M_FORBIDDEN")
}

// Spec 1.11 §"History visibility": a user who left reads the room up to
// their leave (state, members, messages) and nothing after it.
func TestReadingARoomAfterLeaving(t *testing.T) {
	ts := newServer(t)
	alice := ts.register("alice", "pw")
	bob := ts.register("bob", "pw")
	roomID := ts.createRoom(alice, map[string]any{"preset": "public_chat", "topic": "before"})
	ts.expect(ts.do("POST", roomPath(roomID)+"/join", bob, nil), 200, "")
	seen := ts.send(alice, roomID, "t1", "while bob is here")
	ts.expect(ts.do("POST", roomPath(roomID)+"/leave", bob, nil), 200, "")
	unseen := ts.send(alice, roomID, "t2", "after bob left")
	ts.expect(ts.do("PUT", roomPath(roomID)+"/state/m.room.topic", alice, map[string]any{"topic": "after"}), 200, "")
	ts.register("carol", "pw")
	ts.expect(ts.do("POST", roomPath(roomID)+"/invite", alice, map[string]any{"user_id": "@carol:" + ts.name}), 200, "")

	msgs := ts.do("GET", roomPath(roomID)+"/messages?dir=b&limit=50", bob, nil)
	ts.expect(msgs, 200, "")
	var ids []string
	for _, ev := range msgs.body["chunk"].([]any) {
		ids = append(ids, ev.(map[string]any)["event_id"].(string))
	}
	if !slices.Contains(ids, seen) || slices.Contains(ids, unseen) {
		t.Fatalf("messages after leaving: %s", msgs.raw)
	}
	if topic := ts.do("GET", roomPath(roomID)+"/state/m.room.topic", bob, nil); topic.str("topic") != "before" {
		t.Fatalf("topic after leaving: %d %s", topic.status, topic.raw)
	}
	state := ts.do("GET", roomPath(roomID)+"/state", bob, nil)
	ts.expect(state, 200, "")
	members := ts.do("GET", roomPath(roomID)+"/members", bob, nil)
	ts.expect(members, 200, "")
	if n := len(members.body["chunk"].([]any)); n != 2 {
		t.Fatalf("bob sees %d members after leaving, want 2 (carol was invited later): %s", n, members.raw)
	}
	ts.expect(ts.do("GET", roomPath(roomID)+"/event/"+url.PathEscape(seen), bob, nil), 200, "")
	ts.expect(ts.do("GET", roomPath(roomID)+"/event/"+url.PathEscape(unseen), bob, nil), 404, "M_NOT_FOUND")
	ts.expect(ts.do("GET", roomPath(roomID)+"/context/"+url.PathEscape(unseen), bob, nil), 404, "M_NOT_FOUND")
}

// Spec 1.11 §"History visibility" for /event and /context: with "joined",
// a user sees what was sent while joined (200) and not what came before
// (404); with "shared", everything.
func TestEventAndContextFollowHistoryVisibility(t *testing.T) {
	ts := newServer(t)
	alice := ts.register("alice", "pw")
	bob := ts.register("bob", "pw")
	roomID := ts.createRoom(alice, map[string]any{"preset": "public_chat"})
	ts.expect(ts.do("PUT", roomPath(roomID)+"/state/m.room.history_visibility", alice, map[string]any{"history_visibility": "joined"}), 200, "")
	early := ts.send(alice, roomID, "t1", "before bob")
	ts.expect(ts.do("POST", roomPath(roomID)+"/join", bob, nil), 200, "")
	late := ts.send(alice, roomID, "t2", "with bob")

	ts.expect(ts.do("GET", roomPath(roomID)+"/event/"+url.PathEscape(early), bob, nil), 404, "M_NOT_FOUND")
	ts.expect(ts.do("GET", roomPath(roomID)+"/context/"+url.PathEscape(early), bob, nil), 404, "M_NOT_FOUND")
	ts.expect(ts.do("GET", roomPath(roomID)+"/event/"+url.PathEscape(late), bob, nil), 200, "")
	c := ts.do("GET", roomPath(roomID)+"/context/"+url.PathEscape(late)+"?limit=10", bob, nil)
	ts.expect(c, 200, "")
	for _, ev := range c.body["events_before"].([]any) {
		if ev.(map[string]any)["event_id"] == early {
			t.Fatalf("context shows an event from before the join: %s", c.raw)
		}
	}
	ts.expect(ts.do("GET", roomPath(roomID)+"/event/"+url.PathEscape(early), alice, nil), 200, "")

	ts.expect(ts.do("PUT", roomPath(roomID)+"/state/m.room.history_visibility", alice, map[string]any{"history_visibility": "shared"}), 200, "")
	carol := ts.register("carol", "pw")
	ts.expect(ts.do("POST", roomPath(roomID)+"/join", carol, nil), 200, "")
	// "shared" was set after early was sent: early stays "joined" for carol.
	ts.expect(ts.do("GET", roomPath(roomID)+"/event/"+url.PathEscape(early), carol, nil), 404, "M_NOT_FOUND")
	shared := ts.send(alice, roomID, "t3", "shared")
	dave := ts.register("dave", "pw")
	ts.expect(ts.do("POST", roomPath(roomID)+"/join", dave, nil), 200, "")
	// Sent under "shared" before dave joined: dave sees it.
	ts.expect(ts.do("GET", roomPath(roomID)+"/event/"+url.PathEscape(shared), dave, nil), 200, "")
}
