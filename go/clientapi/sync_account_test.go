//go:build !js

package clientapi_test

import (
	"net/url"
	"testing"
)

// Spec 1.11 §"Push Rules": the initial sync carries the user's m.push_rules
// in account data, the defaults for a user who never edited them.
func TestInitialSyncCarriesPushRules(t *testing.T) {
	ts := newServer(t)
	alice := ts.register("alice", "pw")
	sync := ts.do("GET", v3+"/sync", alice, nil)
	ts.expect(sync, 200, "")
	var found bool
	for _, ev := range get(sync.body, "account_data", "events").([]any) {
		if get(ev, "type") == "m.push_rules" {
			found = get(ev, "content", "global", "override") != nil
		}
	}
	if !found {
		t.Fatalf("initial sync without push rules: %s", sync.raw)
	}
}

// Spec 1.11 §"Ignoring Users": invites from ignored users are not shown.
func TestInvitesFromIgnoredUsersHidden(t *testing.T) {
	ts := newServer(t)
	alice := ts.register("alice", "pw")
	bob := ts.register("bob", "pw")
	carol := ts.register("carol", "pw")
	aliceID := "@alice:" + ts.name
	ts.expect(ts.do("PUT", v3+"/user/"+aliceID+"/account_data/m.ignored_user_list", alice,
		map[string]any{"ignored_users": map[string]any{"@bob:" + ts.name: map[string]any{}}}), 200, "")
	fromBob := ts.createRoom(bob, map[string]any{"invite": []string{aliceID}})
	fromCarol := ts.createRoom(carol, map[string]any{"invite": []string{aliceID}})
	sync := ts.do("GET", v3+"/sync", alice, nil)
	ts.expect(sync, 200, "")
	if get(sync.body, "rooms", "invite", fromBob) != nil || get(sync.body, "rooms", "invite", fromCarol) == nil {
		t.Fatalf("invites: %s", sync.raw)
	}
}

// Spec 1.11 §"Extensions to sync" (end-to-end encryption): device_lists.left
// names users who no longer share a room with the syncing user; changed names
// users who have newly come to share one. Also with lazy-loaded members.
func TestDeviceListsLeftAndChanged(t *testing.T) {
	ts := newServer(t)
	alice := ts.register("alice", "pw")
	bob := ts.register("bob", "pw")
	bobID := "@bob:" + ts.name
	roomID := ts.createRoom(alice, map[string]any{"preset": "public_chat"})
	lazy := "&filter=" + `%7B%22room%22%3A%7B%22state%22%3A%7B%22lazy_load_members%22%3Atrue%7D%7D%7D`
	since := ts.do("GET", v3+"/sync?"+lazy, alice, nil).str("next_batch")

	ts.expect(ts.do("POST", roomPath(roomID)+"/join", bob, nil), 200, "")
	r := ts.do("GET", v3+"/sync?since="+since+lazy, alice, nil)
	ts.expect(r, 200, "")
	if changed, _ := get(r.body, "device_lists", "changed").([]any); len(changed) != 1 || changed[0] != bobID {
		t.Fatalf("after bob joined: %s", r.raw)
	}
	since = r.str("next_batch")

	ts.expect(ts.do("POST", roomPath(roomID)+"/leave", bob, nil), 200, "")
	r = ts.do("GET", v3+"/sync?since="+since+lazy, alice, nil)
	ts.expect(r, 200, "")
	if left, _ := get(r.body, "device_lists", "left").([]any); len(left) != 1 || left[0] != bobID {
		t.Fatalf("after bob left: %s", r.raw)
	}
}

// Spec 1.11 §"Presence": an incremental sync after joining a room carries
// the presence of its members, though it did not change since the token.
func TestPresenceOfNewRoomMatesInIncrementalSync(t *testing.T) {
	ts := newServer(t)
	alice := ts.register("alice", "pw")
	bob := ts.register("bob", "pw")
	aliceID := "@alice:" + ts.name
	ts.expect(ts.do("PUT", v3+"/presence/"+aliceID+"/status", alice, map[string]any{"presence": "online", "status_msg": "baking"}), 200, "")
	roomID := ts.createRoom(alice, map[string]any{"preset": "public_chat"})
	since := ts.do("GET", v3+"/sync", bob, nil).str("next_batch")
	ts.expect(ts.do("POST", roomPath(roomID)+"/join", bob, nil), 200, "")
	r := ts.do("GET", v3+"/sync?since="+since, bob, nil)
	ts.expect(r, 200, "")
	var found bool
	for _, ev := range get(r.body, "presence", "events").([]any) {
		if get(ev, "sender") == aliceID && get(ev, "content", "presence") == "online" && get(ev, "content", "status_msg") == "baking" {
			found = true
		}
	}
	if !found {
		t.Fatalf("no presence of alice after joining her room: %s", r.raw)
	}
}

// device_lists.left also names the members of a room the user left who share
// no other room with them, and no invitee who never joined.
func TestDeviceListsLeftWhenTheUserLeaves(t *testing.T) {
	ts := newServer(t)
	alice := ts.register("alice", "pw")
	bob := ts.register("bob", "pw")
	ts.register("carol", "pw")
	roomID := ts.createRoom(alice, map[string]any{"preset": "public_chat"})
	ts.expect(ts.do("POST", roomPath(roomID)+"/join", bob, nil), 200, "")
	since := ts.do("GET", v3+"/sync", bob, nil).str("next_batch")
	ts.expect(ts.do("POST", roomPath(roomID)+"/invite", alice, map[string]any{"user_id": "@carol:" + ts.name}), 200, "")
	ts.expect(ts.do("POST", roomPath(roomID)+"/leave", bob, nil), 200, "")
	r := ts.do("GET", v3+"/sync?since="+since, bob, nil)
	ts.expect(r, 200, "")
	if left, _ := get(r.body, "device_lists", "left").([]any); len(left) != 1 || left[0] != "@alice:"+ts.name {
		t.Fatalf("after bob left: %s", r.raw)
	}
}

// An incremental sync shows the rooms with news since the token and only
// them: a room with a new event, a room with only a new receipt, not a quiet
// room (the sync asks only the rooms with events for their timelines).
func TestIncrementalSyncShowsTheRoomsWithNews(t *testing.T) {
	ts := newServer(t)
	alice := ts.register("alice", "pw")
	quiet := ts.createRoom(alice, nil)
	talk := ts.createRoom(alice, nil)
	read := ts.createRoom(alice, nil)
	readEvent := ts.send(alice, read, "t1", "before the token")
	since := ts.do("GET", v3+"/sync", alice, nil).str("next_batch")
	ts.send(alice, talk, "t2", "after the token")
	ts.expect(ts.do("POST", roomPath(read)+"/receipt/m.read/"+url.PathEscape(readEvent), alice, map[string]any{}), 200, "")
	r := ts.do("GET", v3+"/sync?since="+since, alice, nil)
	ts.expect(r, 200, "")
	joined := get(r.body, "rooms", "join").(map[string]any)
	if _, ok := joined[quiet]; ok {
		t.Fatalf("the quiet room is in the sync: %s", r.raw)
	}
	events := get(joined[talk], "timeline", "events").([]any)
	if len(events) != 1 || get(events[0], "content", "body") != "after the token" {
		t.Fatalf("the room with a new event shows %v: %s", events, r.raw)
	}
	if n := len(get(joined[read], "timeline", "events").([]any)); n != 0 {
		t.Fatalf("the room with only a receipt shows %d timeline events: %s", n, r.raw)
	}
	if eph := get(joined[read], "ephemeral", "events").([]any); len(eph) != 1 || get(eph[0], "type") != "m.receipt" {
		t.Fatalf("the room with a new receipt shows ephemeral %v: %s", eph, r.raw)
	}
}
