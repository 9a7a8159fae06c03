//go:build !js

package clientapi_test

import (
	"testing"
)

// Spec 1.11 §"POST /search": keys (content.body, content.name,
// content.topic; all by default), filter (a RoomEventFilter, applied before
// paging), groupings by room_id and sender, include_state (the current
// state of the rooms with results) and event_context.include_profile (the
// senders' profiles under profile_info).
func TestSearchKeysGroupingsStateAndProfiles(t *testing.T) {
	ts := newServer(t)
	alice := ts.register("alice", "pw")
	bob := ts.register("bob", "pw")
	aliceID, bobID := "@alice:"+ts.name, "@bob:"+ts.name
	ts.expect(ts.do("PUT", v3+"/profile/"+bobID+"/displayname", bob, map[string]any{"displayname": "Bob the Gardener"}), 200, "")
	garden := ts.createRoom(alice, map[string]any{"preset": "public_chat", "name": "Tomato garden", "topic": "where tomatoes grow"})
	kitchen := ts.createRoom(alice, map[string]any{"preset": "public_chat", "name": "Kitchen"})
	ts.expect(ts.do("POST", roomPath(garden)+"/join", bob, nil), 200, "")
	ts.expect(ts.do("POST", roomPath(kitchen)+"/join", bob, nil), 200, "")
	bobSays := ts.send(bob, garden, "b1", "my tomato plants are tall")
	aliceSays := ts.send(alice, kitchen, "a1", "tomato soup tonight")
	ts.send(alice, garden, "a2", "water them")

	search := func(body map[string]any) response {
		t.Helper()
		r := ts.do("POST", v3+"/search", alice, map[string]any{"search_categories": map[string]any{"room_events": body}})
		ts.expect(r, 200, "")
		return r
	}
	types := func(r response) map[string]int {
		out := map[string]int{}
		results, _ := get(r.body, "search_categories", "room_events", "results").([]any)
		for _, res := range results {
			out[get(res, "result", "type").(string)]++
		}
		return out
	}
	all := search(map[string]any{"search_term": "tomato"})
	if got := types(all); got["m.room.message"] != 2 || got["m.room.name"] != 1 || len(got) != 2 {
		t.Fatalf("all keys: %v: %s", got, all.raw)
	}
	if got := types(search(map[string]any{"search_term": "tomatoes", "keys": []string{"content.topic"}})); got["m.room.topic"] != 1 || len(got) != 1 {
		t.Fatalf("content.topic: %v", got)
	}
	if got := types(search(map[string]any{"search_term": "tomato", "keys": []string{"content.name"}})); got["m.room.name"] != 1 || len(got) != 1 {
		t.Fatalf("content.name: %v", got)
	}
	if got := types(search(map[string]any{"search_term": "tomato", "keys": []string{"content.body"}})); got["m.room.message"] != 2 || len(got) != 1 {
		t.Fatalf("content.body: %v", got)
	}
	ts.expect(ts.do("POST", v3+"/search", alice, map[string]any{"search_categories": map[string]any{"room_events": map[string]any{
		"search_term": "tomato", "keys": []string{"content.sender"}}}}), 400, "M_INVALID_PARAM")
	ts.expect(ts.do("POST", v3+"/search", alice, map[string]any{"search_categories": map[string]any{"room_events": map[string]any{
		"search_term": "tomato", "groupings": map[string]any{"group_by": []any{map[string]any{"key": "type"}}}}}}), 400, "M_INVALID_PARAM")

	// The filter keeps pages full: one result per page, bob's only, then
	// nothing more.
	page := search(map[string]any{"search_term": "tomato", "order_by": "recent", "filter": map[string]any{"limit": 1, "senders": []string{bobID}}})
	results, _ := get(page.body, "search_categories", "room_events", "results").([]any)
	if len(results) != 1 || get(results[0], "result", "event_id") != bobSays || get(page.body, "search_categories", "room_events", "next_batch") != nil {
		t.Fatalf("filtered by sender: %s", page.raw)
	}
	notGarden := search(map[string]any{"search_term": "tomato", "filter": map[string]any{"not_rooms": []string{garden}, "types": []string{"m.room.message"}}})
	results, _ = get(notGarden.body, "search_categories", "room_events", "results").([]any)
	if len(results) != 1 || get(results[0], "result", "event_id") != aliceSays {
		t.Fatalf("not_rooms and types: %s", notGarden.raw)
	}

	grouped := search(map[string]any{"search_term": "tomato", "keys": []string{"content.body"}, "order_by": "recent",
		"groupings": map[string]any{"group_by": []any{map[string]any{"key": "room_id"}, map[string]any{"key": "sender"}}}})
	groups := get(grouped.body, "search_categories", "room_events", "groups")
	if get(groups, "room_id", kitchen, "results", 0) != aliceSays || get(groups, "room_id", kitchen, "order") != 1.0 ||
		get(groups, "room_id", garden, "results", 0) != bobSays || get(groups, "room_id", garden, "order") != 2.0 ||
		get(groups, "sender", bobID, "results", 0) != bobSays || get(groups, "sender", aliceID, "results", 0) != aliceSays {
		t.Fatalf("groups: %s", grouped.raw)
	}

	withState := search(map[string]any{"search_term": "plants", "include_state": true,
		"event_context": map[string]any{"before_limit": 1, "after_limit": 1, "include_profile": true}})
	state, _ := get(withState.body, "search_categories", "room_events", "state", garden).([]any)
	var name any
	for _, ev := range state {
		if get(ev, "type") == "m.room.name" {
			name = get(ev, "content", "name")
		}
	}
	if name != "Tomato garden" || get(withState.body, "search_categories", "room_events", "state", kitchen) != nil {
		t.Fatalf("include_state: %s", withState.raw)
	}
	ctx := get(withState.body, "search_categories", "room_events", "results", 0, "context")
	if get(ctx, "profile_info", bobID, "displayname") != "Bob the Gardener" || get(ctx, "profile_info", aliceID) == nil {
		t.Fatalf("profile_info: %s", withState.raw)
	}
	if get(search(map[string]any{"search_term": "plants", "event_context": map[string]any{}}).body,
		"search_categories", "room_events", "results", 0, "context", "profile_info") != nil {
		t.Fatalf("profile_info without include_profile")
	}
}
