//go:build !js

package clientapi_test

import (
	"testing"
)

// Spec 1.11 §"Room directory": GET/PUT /directory/list/room/{roomId} say and
// set whether a room is published; /publicRooms lists published rooms only,
// with their name, topic and canonical alias, and searches them.
func TestRoomDirectoryVisibilityAndSearch(t *testing.T) {
	ts := newServer(t)
	alice := ts.register("alice", "pw")
	bob := ts.register("bob", "pw")
	listed := ts.createRoom(alice, map[string]any{"visibility": "public", "name": "Bakery", "topic": "bread and cakes", "room_alias_name": "bakery"})
	unlisted := ts.createRoom(alice, map[string]any{"preset": "public_chat", "name": "Back room"})
	visibility := func(roomID string) string {
		r := ts.do("GET", v3+"/directory/list/room/"+roomID, "", nil)
		ts.expect(r, 200, "")
		return r.str("visibility")
	}
	if visibility(listed) != "public" || visibility(unlisted) != "private" {
		t.Fatalf("visibilities: %s, %s", visibility(listed), visibility(unlisted))
	}
	ts.expect(ts.do("GET", v3+"/directory/list/room/!nowhere:"+ts.name, "", nil), 404, "M_NOT_FOUND")

	search := func(term string) []any {
		r := ts.do("POST", v3+"/publicRooms", bob, map[string]any{"filter": map[string]any{"generic_search_term": term}})
		ts.expect(r, 200, "")
		chunk, _ := r.body["chunk"].([]any)
		return chunk
	}
	if chunk := search(""); len(chunk) != 1 || get(chunk[0], "room_id") != listed || get(chunk[0], "name") != "Bakery" ||
		get(chunk[0], "topic") != "bread and cakes" || get(chunk[0], "canonical_alias") != "#bakery:"+ts.name ||
		get(chunk[0], "join_rule") != "public" {
		t.Fatalf("directory: %v", chunk)
	}
	for _, term := range []string{"BAKE", "cakes", "#bakery"} {
		if len(search(term)) != 1 {
			t.Fatalf("search %q found nothing", term)
		}
	}
	if len(search("pastry")) != 0 {
		t.Fatal("search for an absent term found a room")
	}

	ts.expect(ts.do("PUT", v3+"/directory/list/room/"+unlisted, bob, map[string]any{"visibility": "public"}), 403, "M_FORBIDDEN")
	ts.expect(ts.do("PUT", v3+"/directory/list/room/"+unlisted, alice, map[string]any{"visibility": "hidden"}), 400, "M_INVALID_PARAM")
	ts.expect(ts.do("PUT", v3+"/directory/list/room/"+unlisted, alice, map[string]any{"visibility": "public"}), 200, "")
	ts.expect(ts.do("PUT", v3+"/directory/list/room/"+listed, alice, map[string]any{"visibility": "private"}), 200, "")
	if chunk := search(""); len(chunk) != 1 || get(chunk[0], "room_id") != unlisted {
		t.Fatalf("directory after changes: %v", chunk)
	}
}
