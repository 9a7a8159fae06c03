//go:build !js

package clientapi_test

import (
	"fmt"
	"net/url"
	"testing"
)

// unreadOf returns a room's unread_notifications in a /sync of token (with
// filter, if not "").
func (ts *testServer) unreadOf(token, roomID, filter string) (notifications, highlights any, raw response) {
	ts.t.Helper()
	path := v3 + "/sync"
	if filter != "" {
		path += "?filter=" + url.QueryEscape(filter)
	}
	r := ts.do("GET", path, token, nil)
	ts.expect(r, 200, "")
	return get(r.body, "rooms", "join", roomID, "unread_notifications", "notification_count"),
		get(r.body, "rooms", "join", roomID, "unread_notifications", "highlight_count"), r
}

// Spec v1.11, "Push Notifications": the server evaluates each member's push
// rules ("Push Rules", "Predefined rules") for each new event; /sync's
// unread_notifications counts what notified and highlighted since the
// user's read receipt ("Receipts": a read receipt resets them); GET
// /notifications lists them ("Listing notifications").
func TestPushRulesDecideNotifications(t *testing.T) {
	ts := newServer(t)
	alice := ts.register("alice", "pw")
	bob := ts.register("bob", "pw")
	carol := ts.register("carol", "pw")
	bobID := ts.whoami(bob)
	ts.expect(ts.do("PUT", v3+"/profile/"+url.PathEscape(bobID)+"/displayname", bob, map[string]any{"displayname": "Bobby"}), 200, "")
	roomID := ts.createRoom(alice, map[string]any{"preset": "public_chat"})
	for _, tok := range []string{bob, carol} {
		ts.expect(ts.do("POST", v3+"/join/"+url.PathEscape(roomID), tok, map[string]any{}), 200, "")
	}
	if n, h, r := ts.unreadOf(bob, roomID, ""); n != 0.0 || h != 0.0 {
		t.Fatalf("before any message: %v %v %s", n, h, r.raw)
	}

	hello := ts.send(alice, roomID, "t1", "hello all")
	mention := ts.sendContent(alice, roomID, "t2", map[string]any{"msgtype": "m.text", "body": "Bobby: look",
		"m.mentions": map[string]any{"user_ids": []string{bobID}}})
	ts.sendContent(alice, roomID, "t3", map[string]any{"msgtype": "m.notice", "body": "a bot's notice"}) // .m.rule.suppress_notices
	ts.send(alice, roomID, "t4", "hey bobby, old clients mention by name")                               // .m.rule.contains_display_name
	atRoom := ts.sendContent(alice, roomID, "t5", map[string]any{"msgtype": "m.text", "body": "everyone!",
		"m.mentions": map[string]any{"room": true}}) // .m.rule.is_room_mention: alice has power 100
	if n, h, r := ts.unreadOf(bob, roomID, ""); n != 4.0 || h != 3.0 {
		t.Fatalf("bob: %v notifications, %v highlights, want 4 and 3: %s", n, h, r.raw)
	}
	if n, h, r := ts.unreadOf(carol, roomID, ""); n != 4.0 || h != 1.0 {
		t.Fatalf("carol: %v notifications, %v highlights, want 4 and 1: %s", n, h, r.raw)
	}
	if n, h, _ := ts.unreadOf(alice, roomID, ""); n != 0.0 || h != 0.0 {
		t.Fatalf("alice is notified of her own messages: %v %v", n, h)
	}

	// GET /notifications: newest first, the rule's actions, paged, highlights only.
	r := ts.do("GET", v3+"/notifications", bob, nil)
	ts.expect(r, 200, "")
	list, _ := r.body["notifications"].([]any)
	if len(list) != 4 || get(list[0], "event", "event_id") != atRoom || get(list[3], "event", "event_id") != hello ||
		get(list[0], "room_id") != roomID || get(list[0], "read") != false || get(list[0], "ts") == nil {
		t.Fatalf("notifications: %s", r.raw)
	}
	if acts, _ := get(list[2], "actions").([]any); len(acts) != 3 || get(acts[2], "set_tweak") != "highlight" {
		t.Fatalf("mention's actions: %s", r.raw)
	}
	r = ts.do("GET", v3+"/notifications?only=highlight&limit=2", bob, nil)
	page, _ := r.body["notifications"].([]any)
	if len(page) != 2 || r.str("next_token") == "" {
		t.Fatalf("first page: %s", r.raw)
	}
	r = ts.do("GET", v3+"/notifications?only=highlight&limit=2&from="+r.str("next_token"), bob, nil)
	page, _ = r.body["notifications"].([]any)
	if len(page) != 1 || get(page[0], "event", "event_id") != mention || r.body["next_token"] != nil {
		t.Fatalf("second page: %s", r.raw)
	}
	ts.expect(ts.do("GET", v3+"/notifications?only=everything", bob, nil), 400, "M_INVALID_PARAM")
	ts.expect(ts.do("GET", v3+"/notifications?from=x", bob, nil), 400, "M_INVALID_PARAM")

	// A read receipt (public or private) resets what came up to it.
	ts.expect(ts.do("POST", roomPath(roomID)+"/receipt/m.read.private/"+url.PathEscape(mention), bob, map[string]any{}), 200, "")
	if n, h, r := ts.unreadOf(bob, roomID, ""); n != 2.0 || h != 2.0 {
		t.Fatalf("after the receipt: %v %v: %s", n, h, r.raw)
	}
	r = ts.do("GET", v3+"/notifications", bob, nil)
	list, _ = r.body["notifications"].([]any)
	if get(list[0], "read") != false || get(list[2], "read") != true || get(list[3], "read") != true {
		t.Fatalf("read flags: %s", r.raw)
	}
	ts.expect(ts.do("POST", roomPath(roomID)+"/read_markers", carol, map[string]any{"m.fully_read": atRoom, "m.read": atRoom}), 200, "")
	if n, h, _ := ts.unreadOf(carol, roomID, ""); n != 0.0 || h != 0.0 {
		t.Fatalf("carol read everything: %v %v", n, h)
	}

	// Bob's own rule for the room (no actions) mutes it; carol still hears.
	ts.expect(ts.do("PUT", v3+"/pushrules/global/room/"+url.PathEscape(roomID), bob, map[string]any{"actions": []any{}}), 200, "")
	ts.send(alice, roomID, "t6", "muted for him")
	if n, _, _ := ts.unreadOf(bob, roomID, ""); n != 2.0 {
		t.Fatalf("muted room notified bob: %v", n)
	}
	if n, _, _ := ts.unreadOf(carol, roomID, ""); n != 1.0 {
		t.Fatalf("carol: %v, want 1", n)
	}
	// Writing reads what came before.
	ts.send(bob, roomID, "b1", "I am here")
	if n, h, _ := ts.unreadOf(bob, roomID, ""); n != 0.0 || h != 0.0 {
		t.Fatalf("after writing: %v %v", n, h)
	}

	// A reply in a thread counts apart when the filter asks for it.
	reply := ts.sendContent(alice, roomID, "t7", map[string]any{"msgtype": "m.text", "body": "in the thread",
		"m.relates_to": map[string]any{"rel_type": "m.thread", "event_id": hello}})
	// carol has unread: "muted for him", bob's "I am here" and the reply.
	if n, _, _ := ts.unreadOf(carol, roomID, ""); n != 3.0 {
		t.Fatalf("carol without thread counts: %v, want 3", n)
	}
	n, _, r := ts.unreadOf(carol, roomID, `{"room":{"timeline":{"unread_thread_notifications":true}}}`)
	if n != 2.0 || get(r.body, "rooms", "join", roomID, "unread_thread_notifications", hello, "notification_count") != 1.0 {
		t.Fatalf("thread counts (reply %s): %s", reply, r.raw)
	}

	// Threaded read receipts ("Threaded read receipts"): a receipt in a thread
	// reads that thread only; one for the main timeline reads the main
	// timeline only.
	threadCounts := `{"room":{"timeline":{"unread_thread_notifications":true}}}`
	threadUnread := func(r response) any {
		return get(r.body, "rooms", "join", roomID, "unread_thread_notifications", hello, "notification_count")
	}
	ts.expect(ts.do("POST", roomPath(roomID)+"/receipt/m.read/"+url.PathEscape(reply), carol, map[string]any{"thread_id": hello}), 200, "")
	if n, _, r := ts.unreadOf(carol, roomID, threadCounts); n != 2.0 || threadUnread(r) != nil {
		t.Fatalf("after a receipt in the thread: main %v, thread %v, want 2 and none: %s", n, threadUnread(r), r.raw)
	}
	ts.sendContent(alice, roomID, "t8", map[string]any{"msgtype": "m.text", "body": "more in the thread",
		"m.relates_to": map[string]any{"rel_type": "m.thread", "event_id": hello}})
	latestMain := ts.send(alice, roomID, "t9", "back in the room")
	ts.expect(ts.do("POST", roomPath(roomID)+"/receipt/m.read/"+url.PathEscape(latestMain), carol, map[string]any{"thread_id": "main"}), 200, "")
	if n, _, r := ts.unreadOf(carol, roomID, threadCounts); n != 0.0 || threadUnread(r) != 1.0 {
		t.Fatalf("after a receipt in the main timeline: main %v, thread %v, want 0 and 1: %s", n, threadUnread(r), r.raw)
	}

	// An invite notifies its local target (.m.rule.invite_for_me).
	dave := ts.register("dave", "pw")
	ts.expect(ts.do("POST", roomPath(roomID)+"/invite", alice, map[string]any{"user_id": ts.whoami(dave)}), 200, "")
	r = ts.do("GET", v3+"/notifications", dave, nil)
	if list, _ := r.body["notifications"].([]any); len(list) != 1 || get(list[0], "event", "content", "membership") != "invite" {
		t.Fatalf("dave's notifications: %s", r.raw)
	}
}

// Every change to a user's push rules (a rule put, deleted, enabled or
// disabled, its actions replaced) applies from the next event on: the rules
// the server evaluates events with are cached (package accountdata), and a
// change must reach the cache.
func TestPushRuleChangesApplyToTheNextEvent(t *testing.T) {
	ts := newServer(t)
	alice := ts.register("alice", "pw")
	bob := ts.register("bob", "pw")
	roomID := ts.createRoom(alice, map[string]any{"preset": "public_chat"})
	ts.expect(ts.do("POST", v3+"/join/"+url.PathEscape(roomID), bob, map[string]any{}), 200, "")
	mute := v3 + "/pushrules/global/override/mute"
	steps := []struct {
		name           string
		method, path   string
		body           map[string]any
		notified, high bool
	}{
		{name: "defaults"},
		{name: "a muting rule put", method: "PUT", path: mute, body: map[string]any{"actions": []any{},
			"conditions": []any{map[string]any{"kind": "event_match", "key": "room_id", "pattern": roomID}}}},
		{name: "the rule disabled", method: "PUT", path: mute + "/enabled", body: map[string]any{"enabled": false}, notified: true},
		{name: "the rule enabled", method: "PUT", path: mute + "/enabled", body: map[string]any{"enabled": true}},
		{name: "its actions replaced", method: "PUT", path: mute + "/actions", body: map[string]any{"actions": []any{"notify",
			map[string]any{"set_tweak": "highlight"}}}, notified: true, high: true},
		{name: "the rule deleted", method: "DELETE", path: mute, notified: true},
		// Two members: .m.rule.room_one_to_one is the rule that notifies.
		{name: "a default rule's actions emptied", method: "PUT", path: v3 + "/pushrules/global/underride/.m.rule.room_one_to_one/actions",
			body: map[string]any{"actions": []any{}}},
	}
	steps[0].notified = true
	for i, step := range steps {
		if step.method != "" {
			ts.expect(ts.do(step.method, step.path, bob, step.body), 200, "")
		}
		eventID := ts.send(alice, roomID, fmt.Sprintf("t%d", i), "hello")
		r := ts.do("GET", v3+"/notifications?limit=1", bob, nil)
		ts.expect(r, 200, "")
		list, _ := r.body["notifications"].([]any)
		notified := len(list) == 1 && get(list[0], "event", "event_id") == eventID
		if notified != step.notified {
			t.Fatalf("after %s: notified %v, want %v: %s", step.name, notified, step.notified, r.raw)
		}
		if notified {
			highlight := false
			for _, a := range get(list[0], "actions").([]any) {
				highlight = highlight || get(a, "set_tweak") == "highlight"
			}
			if highlight != step.high {
				t.Fatalf("after %s: highlight %v, want %v: %s", step.name, highlight, step.high, r.raw)
			}
		}
	}
}

// Who is notified, and by which display name, follows the room's state from
// one event to the next: the joined members are cached per state (package
// room), and a join, a leave or a new display name is a new state.
func TestNotifiedMembersFollowTheRoomsState(t *testing.T) {
	ts := newServer(t)
	alice := ts.register("alice", "pw")
	bob := ts.register("bob", "pw")
	carol := ts.register("carol", "pw")
	bobID := ts.whoami(bob)
	roomID := ts.createRoom(alice, map[string]any{"preset": "public_chat"})
	ts.expect(ts.do("POST", v3+"/join/"+url.PathEscape(roomID), bob, map[string]any{}), 200, "")
	latest := func(token string) (eventID string, highlight bool) {
		t.Helper()
		r := ts.do("GET", v3+"/notifications?limit=1", token, nil)
		ts.expect(r, 200, "")
		list, _ := r.body["notifications"].([]any)
		if len(list) == 0 {
			return "", false
		}
		for _, a := range get(list[0], "actions").([]any) {
			highlight = highlight || get(a, "set_tweak") == "highlight"
		}
		id, _ := get(list[0], "event", "event_id").(string)
		return id, highlight
	}

	first := ts.send(alice, roomID, "t1", "hello Bobby")
	if id, high := latest(bob); id != first || high {
		t.Fatalf("bob without a display name: %s %v, want %s unhighlighted", id, high, first)
	}
	ts.expect(ts.do("PUT", v3+"/profile/"+url.PathEscape(bobID)+"/displayname", bob, map[string]any{"displayname": "Bobby"}), 200, "")
	second := ts.send(alice, roomID, "t2", "hello Bobby")
	if id, high := latest(bob); id != second || !high {
		t.Fatalf("bob named Bobby: %s %v, want %s highlighted", id, high, second)
	}
	ts.expect(ts.do("POST", v3+"/join/"+url.PathEscape(roomID), carol, map[string]any{}), 200, "")
	third := ts.send(alice, roomID, "t3", "welcome")
	if id, _ := latest(carol); id != third {
		t.Fatalf("carol, just joined: latest %q, want %s", id, third)
	}
	ts.expect(ts.do("POST", roomPath(roomID)+"/leave", bob, map[string]any{}), 200, "")
	ts.send(alice, roomID, "t4", "bye Bobby")
	if id, _ := latest(bob); id != third {
		t.Fatalf("bob, gone, was notified of %s", id)
	}
}

// A redacted event notifies no one any more: it leaves the unread counts and
// GET /notifications (as in Synapse, which drops its push actions).
func TestRedactedEventsNotifyNoOne(t *testing.T) {
	ts := newServer(t)
	alice := ts.register("alice", "pw")
	bob := ts.register("bob", "pw")
	bobID := ts.whoami(bob)
	roomID := ts.createRoom(alice, map[string]any{"preset": "public_chat"})
	ts.expect(ts.do("POST", v3+"/join/"+url.PathEscape(roomID), bob, map[string]any{}), 200, "")
	mention := func(txnID string) string {
		return ts.sendContent(alice, roomID, txnID, map[string]any{"msgtype": "m.text", "body": "bob!",
			"m.mentions": map[string]any{"user_ids": []string{bobID}}})
	}
	gone, kept := mention("m1"), mention("m2")
	if n, h, r := ts.unreadOf(bob, roomID, ""); n != 2.0 || h != 2.0 {
		t.Fatalf("before the redaction: %v %v: %s", n, h, r.raw)
	}
	ts.expect(ts.do("PUT", roomPath(roomID)+"/redact/"+url.PathEscape(gone)+"/r1", alice, map[string]any{}), 200, "")
	if n, h, r := ts.unreadOf(bob, roomID, ""); n != 1.0 || h != 1.0 {
		t.Fatalf("after the redaction: %v %v: %s", n, h, r.raw)
	}
	r := ts.do("GET", v3+"/notifications", bob, nil)
	list, _ := r.body["notifications"].([]any)
	if len(list) != 1 || get(list[0], "event", "event_id") != kept {
		t.Fatalf("notifications after the redaction: %s", r.raw)
	}
}

// A user's own message means they have read the room (push.Unread answers it
// from what the server saw, without counting): the next message that
// notifies them counts again, in a room and a thread alike, and a message
// elsewhere leaves this room's count alone.
func TestOwnMessagesReadTheRoomUntilTheNextNotification(t *testing.T) {
	ts := newServer(t)
	alice := ts.register("alice", "pw")
	bob := ts.register("bob", "pw")
	roomID := ts.createRoom(alice, map[string]any{"preset": "public_chat"})
	otherID := ts.createRoom(alice, map[string]any{"preset": "public_chat"})
	for _, id := range []string{roomID, otherID} {
		ts.expect(ts.do("POST", v3+"/join/"+url.PathEscape(id), bob, map[string]any{}), 200, "")
	}
	unread := func(when string, want float64) {
		t.Helper()
		if n, _, r := ts.unreadOf(bob, roomID, ""); n != want {
			t.Fatalf("%s: bob has %v unread, want %v: %s", when, n, want, r.raw)
		}
	}
	root := ts.send(alice, roomID, "a1", "hello")
	unread("after alice's message", 1)
	ts.send(bob, roomID, "b1", "hi")
	unread("after bob's own message", 0)
	ts.send(alice, roomID, "a2", "how are you")
	unread("after alice's next message", 1)
	ts.send(bob, roomID, "b2", "fine")
	ts.sendContent(alice, roomID, "a3", map[string]any{"msgtype": "m.text", "body": "in a thread",
		"m.relates_to": map[string]any{"rel_type": "m.thread", "event_id": root}})
	unread("after alice's reply in a thread", 1)
	ts.send(bob, roomID, "b3", "seen")
	ts.send(alice, otherID, "a4", "elsewhere")
	unread("after a message in another room", 0)
	if n, _, r := ts.unreadOf(bob, otherID, ""); n != 1.0 {
		t.Fatalf("the other room: %v unread, want 1: %s", n, r.raw)
	}
}
