//go:build !js

package clientapi_test

import (
	"net/url"
	"testing"
)

const v1 = "/_matrix/client/v1"

// sendContent sends an m.room.message with the given content.
func (ts *testServer) sendContent(token, roomID, txnID string, content map[string]any) string {
	ts.t.Helper()
	r := ts.do("PUT", roomPath(roomID)+"/send/m.room.message/"+txnID, token, content)
	ts.expect(r, 200, "")
	return r.str("event_id")
}

func relatesTo(relType, eventID string) map[string]any {
	return map[string]any{"rel_type": relType, "event_id": eventID}
}

// Spec 1.11 §"GET /rooms/{roomId}/relations/{eventId}/{relType}/{eventType}",
// §"Aggregations of child events" (m.replace, m.reference, m.thread) and
// §"GET /rooms/{roomId}/threads".
func TestRelationsBundlesAndThreads(t *testing.T) {
	ts := newServer(t)
	alice := ts.register("alice", "pw")
	bob := ts.register("bob", "pw")
	roomID := ts.createRoom(alice, map[string]any{"preset": "public_chat"})
	ts.expect(ts.do("POST", roomPath(roomID)+"/join", bob, nil), 200, "")
	root := ts.send(alice, roomID, "root", "the original")
	edit := ts.sendContent(alice, roomID, "edit", map[string]any{"msgtype": "m.text", "body": "* fixed",
		"m.new_content": map[string]any{"msgtype": "m.text", "body": "fixed"}, "m.relates_to": relatesTo("m.replace", root)})
	// An edit by someone else is no edit.
	ts.sendContent(bob, roomID, "bad-edit", map[string]any{"msgtype": "m.text", "body": "* hijack",
		"m.new_content": map[string]any{"body": "hijack"}, "m.relates_to": relatesTo("m.replace", root)})
	ref := ts.sendContent(bob, roomID, "ref", map[string]any{"msgtype": "m.text", "body": "see above", "m.relates_to": relatesTo("m.reference", root)})
	var replies []string
	for i, who := range []string{bob, alice, bob} {
		replies = append(replies, ts.sendContent(who, roomID, "reply"+string(rune('0'+i)),
			map[string]any{"msgtype": "m.text", "body": "reply", "m.relates_to": relatesTo("m.thread", root)}))
	}
	reaction := ts.do("PUT", roomPath(roomID)+"/send/m.reaction/like", bob,
		map[string]any{"m.relates_to": map[string]any{"rel_type": "m.annotation", "event_id": root, "key": "👍"}})
	ts.expect(reaction, 200, "")

	ev := ts.do("GET", roomPath(roomID)+"/event/"+url.PathEscape(root), bob, nil)
	ts.expect(ev, 200, "")
	rel := get(ev.body, "unsigned", "m.relations")
	if get(rel, "m.replace", "event_id") != edit {
		t.Fatalf("m.replace bundle: %s", ev.raw)
	}
	if get(rel, "m.reference", "chunk", 0, "event_id") != ref {
		t.Fatalf("m.reference bundle: %s", ev.raw)
	}
	if get(rel, "m.thread", "count") != 3.0 || get(rel, "m.thread", "latest_event", "event_id") != replies[2] ||
		get(rel, "m.thread", "current_user_participated") != true {
		t.Fatalf("m.thread bundle: %s", ev.raw)
	}
	msgs := ts.do("GET", roomPath(roomID)+"/messages?dir=b&limit=50", alice, nil)
	for _, e := range msgs.body["chunk"].([]any) {
		if get(e, "event_id") == root && get(e, "unsigned", "m.relations", "m.thread", "count") != 3.0 {
			t.Fatalf("/messages without the bundle: %v", e)
		}
	}

	base := v1 + "/rooms/" + url.PathEscape(roomID) + "/relations/" + url.PathEscape(root)
	all := ts.do("GET", base, bob, nil)
	ts.expect(all, 200, "")
	if n := len(all.body["chunk"].([]any)); n != 7 {
		t.Fatalf("%d relations, want 7: %s", n, all.raw)
	}
	threads := ts.do("GET", base+"/m.thread?limit=2", bob, nil)
	ts.expect(threads, 200, "")
	chunk := threads.body["chunk"].([]any)
	if len(chunk) != 2 || get(chunk[0], "event_id") != replies[2] || get(chunk[1], "event_id") != replies[1] || threads.str("next_batch") == "" {
		t.Fatalf("first page of thread replies: %s", threads.raw)
	}
	rest := ts.do("GET", base+"/m.thread?limit=2&from="+threads.str("next_batch"), bob, nil)
	if chunk := rest.body["chunk"].([]any); len(chunk) != 1 || get(chunk[0], "event_id") != replies[0] || rest.str("next_batch") != "" {
		t.Fatalf("second page of thread replies: %s", rest.raw)
	}
	forward := ts.do("GET", base+"/m.thread?dir=f", bob, nil)
	if chunk := forward.body["chunk"].([]any); len(chunk) != 3 || get(chunk[0], "event_id") != replies[0] {
		t.Fatalf("thread replies forwards: %s", forward.raw)
	}
	reactions := ts.do("GET", base+"/m.annotation/m.reaction", bob, nil)
	if chunk := reactions.body["chunk"].([]any); len(chunk) != 1 || get(chunk[0], "event_id") != reaction.str("event_id") {
		t.Fatalf("reactions: %s", reactions.raw)
	}
	ts.expect(ts.do("GET", base+"?dir=sideways", bob, nil), 400, "M_INVALID_PARAM")
	ts.expect(ts.do("GET", v1+"/rooms/"+url.PathEscape(roomID)+"/relations/$nothing", bob, nil), 404, "M_NOT_FOUND")
	outsider := ts.register("carol", "pw")
	ts.expect(ts.do("GET", base, outsider, nil), 403, "M_FORBIDDEN")

	list := ts.do("GET", v1+"/rooms/"+url.PathEscape(roomID)+"/threads", alice, nil)
	ts.expect(list, 200, "")
	if chunk := list.body["chunk"].([]any); len(chunk) != 1 || get(chunk[0], "event_id") != root ||
		get(chunk[0], "unsigned", "m.relations", "m.thread", "count") != 3.0 {
		t.Fatalf("threads: %s", list.raw)
	}
	carolJoins := ts.do("POST", roomPath(roomID)+"/join", outsider, nil)
	ts.expect(carolJoins, 200, "")
	mine := ts.do("GET", v1+"/rooms/"+url.PathEscape(roomID)+"/threads?include=participated", outsider, nil)
	if chunk := mine.body["chunk"].([]any); len(chunk) != 0 {
		t.Fatalf("carol took part in no thread: %s", mine.raw)
	}
}
