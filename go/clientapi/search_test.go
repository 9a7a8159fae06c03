//go:build !js

package clientapi_test

import (
	"net/url"
	"testing"
)

// Spec 1.11 §"Server Side Search" (POST /search): matches by body in joined
// rooms only, order_by rank and recent, next_batch paging, context around
// results, redacted events excluded.
func TestSearchRoomEvents(t *testing.T) {
	ts := newServer(t)
	alice := ts.register("alice", "pw")
	bob := ts.register("bob", "pw")
	kitchen := ts.createRoom(alice, nil)
	secret := ts.createRoom(bob, nil)
	ts.send(bob, secret, "s1", "cake recipe only bob sees")
	first := ts.send(alice, kitchen, "k1", "the cake is in the oven")
	ts.send(alice, kitchen, "k2", "something unrelated")
	best := ts.send(alice, kitchen, "k3", "cake cake")
	redacted := ts.send(alice, kitchen, "k4", "cake to be redacted")
	ts.expect(ts.do("PUT", roomPath(kitchen)+"/redact/"+url.PathEscape(redacted)+"/r1", alice, map[string]any{}), 200, "")

	search := func(body map[string]any, batch string) response {
		path := v3 + "/search"
		if batch != "" {
			path += "?next_batch=" + url.QueryEscape(batch)
		}
		r := ts.do("POST", path, alice, map[string]any{"search_categories": map[string]any{"room_events": body}})
		ts.expect(r, 200, "")
		return r
	}
	ids := func(r response) []any {
		var out []any
		results, _ := get(r.body, "search_categories", "room_events", "results").([]any)
		for _, res := range results {
			out = append(out, get(res, "result", "event_id"))
		}
		return out
	}
	ranked := search(map[string]any{"search_term": "Cake"}, "")
	if got := ids(ranked); len(got) != 2 || got[0] != best || got[1] != first {
		t.Fatalf("by rank: %v, want [%s %s]: %s", got, best, first, ranked.raw)
	}
	if get(ranked.body, "search_categories", "room_events", "count") != 2.0 {
		t.Fatalf("count: %s", ranked.raw)
	}

	page := search(map[string]any{"search_term": "cake", "order_by": "recent", "filter": map[string]any{"limit": 1},
		"event_context": map[string]any{"before_limit": 1, "after_limit": 1}}, "")
	if got := ids(page); len(got) != 1 || got[0] != best {
		t.Fatalf("recent, first page: %s", page.raw)
	}
	before := get(page.body, "search_categories", "room_events", "results", 0, "context", "events_before", 0, "content", "body")
	if before != "something unrelated" {
		t.Fatalf("context: %s", page.raw)
	}
	next, _ := get(page.body, "search_categories", "room_events", "next_batch").(string)
	if next == "" {
		t.Fatalf("no next_batch: %s", page.raw)
	}
	rest := search(map[string]any{"search_term": "cake", "order_by": "recent", "filter": map[string]any{"limit": 1}}, next)
	if got := ids(rest); len(got) != 1 || got[0] != first {
		t.Fatalf("recent, second page: %s", rest.raw)
	}
	if got := ids(search(map[string]any{"search_term": "cake", "filter": map[string]any{"rooms": []string{secret}}}, "")); len(got) != 0 {
		t.Fatalf("found events of a room alice is not in: %v", got)
	}
	ts.expect(ts.do("POST", v3+"/search", alice, map[string]any{"search_categories": map[string]any{"room_events": map[string]any{}}}), 400, "M_BAD_JSON")
	ts.expect(ts.do("POST", v3+"/search", alice, map[string]any{"search_categories": map[string]any{"room_events": map[string]any{"search_term": "x", "order_by": "size"}}}), 400, "M_INVALID_PARAM")
}
