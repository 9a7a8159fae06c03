//go:build !js

package clientapi_test

import (
	"net/url"
	"testing"
)

// Spec 1.11 §"Aggregations of child events": the server bundles
// aggregations "whenever it serves an event to the client", /sync
// timelines included: the newest edit (m.replace), the references and the
// thread summary (m.thread with latest_event, count and
// current_user_participated) under unsigned.m.relations, in the sync
// format (no room_id in the bundled events).
func TestSyncTimelineBundles(t *testing.T) {
	ts := newServer(t)
	alice := ts.register("alice", "pw")
	bob := ts.register("bob", "pw")
	roomID := ts.createRoom(alice, map[string]any{"preset": "public_chat"})
	ts.expect(ts.do("POST", roomPath(roomID)+"/join", bob, nil), 200, "")
	root := ts.send(alice, roomID, "root", "the original")
	plain := ts.send(alice, roomID, "plain", "no children")
	edit := ts.sendContent(alice, roomID, "edit", map[string]any{"msgtype": "m.text", "body": "* fixed",
		"m.new_content": map[string]any{"msgtype": "m.text", "body": "fixed"}, "m.relates_to": relatesTo("m.replace", root)})
	ref := ts.sendContent(bob, roomID, "ref", map[string]any{"msgtype": "m.text", "body": "see above", "m.relates_to": relatesTo("m.reference", root)})
	reply := ts.sendContent(alice, roomID, "reply", map[string]any{"msgtype": "m.text", "body": "reply", "m.relates_to": relatesTo("m.thread", root)})

	find := func(r response, eventID string) map[string]any {
		t.Helper()
		for _, e := range events(r, roomID, "timeline") {
			if get(e, "event_id") == eventID {
				return e
			}
		}
		return nil
	}
	initial := ts.do("GET", v3+"/sync", bob, nil)
	ts.expect(initial, 200, "")
	ev := find(initial, root)
	if ev == nil {
		t.Fatalf("root not in the initial timeline: %s", initial.raw)
	}
	rel := get(ev, "unsigned", "m.relations")
	if get(rel, "m.replace", "event_id") != edit || get(rel, "m.reference", "chunk", 0, "event_id") != ref ||
		get(rel, "m.thread", "count") != 1.0 || get(rel, "m.thread", "latest_event", "event_id") != reply ||
		get(rel, "m.thread", "current_user_participated") != false {
		t.Fatalf("bundle in /sync: %v", ev)
	}
	if get(rel, "m.replace", "room_id") != nil || get(rel, "m.thread", "latest_event", "room_id") != nil {
		t.Fatalf("bundled events not in the sync format: %v", rel)
	}
	if p := find(initial, plain); p == nil || get(p, "unsigned", "m.relations") != nil {
		t.Fatalf("an event without children got a bundle: %v", p)
	}

	// Bob replies: an incremental sync shows the reply, not the root again;
	// the next initial sync's summary counts it and says he took part.
	since := initial.str("next_batch")
	mine := ts.sendContent(bob, roomID, "bob-reply", map[string]any{"msgtype": "m.text", "body": "me too", "m.relates_to": relatesTo("m.thread", root)})
	inc := ts.do("GET", v3+"/sync?since="+url.QueryEscape(since), bob, nil)
	if find(inc, mine) == nil || find(inc, root) != nil {
		t.Fatalf("incremental sync: %s", inc.raw)
	}
	again := ts.do("GET", v3+"/sync", bob, nil)
	rel = get(find(again, root), "unsigned", "m.relations")
	if get(rel, "m.thread", "count") != 2.0 || get(rel, "m.thread", "latest_event", "event_id") != mine ||
		get(rel, "m.thread", "current_user_participated") != true {
		t.Fatalf("thread summary after bob's reply: %v", rel)
	}
}
