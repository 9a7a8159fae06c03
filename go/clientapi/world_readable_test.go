//go:build !js

package clientapi_test

import (
	"encoding/json"
	"net/url"
	"slices"
	"testing"
)

// Spec 1.11 §"History visibility" (world_readable: "All events while this
// is the m.room.history_visibility value may be shared by any participating
// homeserver with anyone, regardless of whether they have ever joined the
// room") and §"Room previews": a user who never joined reads a room that is
// world_readable now (/messages, /state, /event, /context, /members,
// /aliases), sees
// only what was sent while it was world_readable, and cannot write; once
// the room is not world_readable, M_FORBIDDEN again.
func TestWorldReadableRoomsWithoutJoining(t *testing.T) {
	ts := newServer(t)
	alice := ts.register("alice", "pw")
	bob := ts.register("bob", "pw")
	aliceID := "@alice:" + ts.name
	roomID := ts.createRoom(alice, map[string]any{"preset": "public_chat", "name": "Open house"})
	before := ts.send(alice, roomID, "b", "said while shared")

	for _, path := range []string{"/messages?dir=b", "/state", "/state/m.room.name", "/event/" + url.PathEscape(before),
		"/context/" + url.PathEscape(before), "/members", "/aliases"} {
		if r := ts.do("GET", roomPath(roomID)+path, bob, nil); r.status != 403 || r.str("errcode") != "M_FORBIDDEN" {
			t.Fatalf("%s of a shared room to a stranger: %d %s", path, r.status, r.raw)
		}
	}

	ts.expect(ts.do("PUT", roomPath(roomID)+"/state/m.room.history_visibility", alice, map[string]any{"history_visibility": "world_readable"}), 200, "")
	open := ts.send(alice, roomID, "o", "said while world readable")
	bodies := func(r response) []any {
		var out []any
		for _, ev := range r.body["chunk"].([]any) {
			if b := get(ev, "content", "body"); b != nil {
				out = append(out, b)
			}
		}
		return out
	}
	msgs := ts.do("GET", roomPath(roomID)+"/messages?dir=b&limit=50", bob, nil)
	ts.expect(msgs, 200, "")
	if got := bodies(msgs); !slices.Equal(got, []any{"said while world readable"}) {
		t.Fatalf("a stranger's /messages: %v: %s", got, msgs.raw)
	}
	state := ts.do("GET", roomPath(roomID)+"/state", bob, nil)
	ts.expect(state, 200, "")
	var stateEvents []map[string]any
	if err := json.Unmarshal(state.raw, &stateEvents); err != nil || !slices.ContainsFunc(stateEvents, func(ev map[string]any) bool {
		return ev["type"] == "m.room.history_visibility" && get(ev, "content", "history_visibility") == "world_readable"
	}) {
		t.Fatalf("state: %s", state.raw)
	}
	if r := ts.do("GET", roomPath(roomID)+"/state/m.room.name", bob, nil); r.str("name") != "Open house" {
		t.Fatalf("state event: %d %s", r.status, r.raw)
	}
	ev := ts.do("GET", roomPath(roomID)+"/event/"+url.PathEscape(open), bob, nil)
	ts.expect(ev, 200, "")
	if get(ev.body, "content", "body") != "said while world readable" {
		t.Fatalf("event: %s", ev.raw)
	}
	ts.expect(ts.do("GET", roomPath(roomID)+"/event/"+url.PathEscape(before), bob, nil), 404, "M_NOT_FOUND")
	ctx := ts.do("GET", roomPath(roomID)+"/context/"+url.PathEscape(open)+"?limit=10", bob, nil)
	ts.expect(ctx, 200, "")
	for _, e := range ctx.body["events_before"].([]any) {
		if get(e, "event_id") == before {
			t.Fatalf("context shows what was said while shared: %s", ctx.raw)
		}
	}
	members := ts.do("GET", roomPath(roomID)+"/members", bob, nil)
	ts.expect(members, 200, "")
	if get(members.body, "chunk", 0, "state_key") != aliceID {
		t.Fatalf("members: %s", members.raw)
	}
	ts.expect(ts.do("GET", roomPath(roomID)+"/aliases", bob, nil), 200, "")
	ts.expect(ts.do("PUT", roomPath(roomID)+"/send/m.room.message/x", bob, map[string]any{"msgtype": "m.text", "body": "hi"}), 403, "M_FORBIDDEN")
	if r := ts.do("GET", v3+"/sync", bob, nil); get(r.body, "rooms", "join", roomID) != nil {
		t.Fatalf("reading made bob a member: %s", r.raw)
	}

	// Carol joined and left: she reads past her leave what is world_readable
	// (and, as a member once, what was said while shared).
	carol := ts.register("carol", "pw")
	ts.expect(ts.do("POST", roomPath(roomID)+"/join", carol, nil), 200, "")
	ts.expect(ts.do("POST", roomPath(roomID)+"/leave", carol, nil), 200, "")
	ts.send(alice, roomID, "a", "after carol left")
	if got := bodies(ts.do("GET", roomPath(roomID)+"/messages?dir=b&limit=50", carol, nil)); !slices.Equal(got, []any{"after carol left", "said while world readable", "said while shared"}) {
		t.Fatalf("carol after her leave: %v", got)
	}

	ts.expect(ts.do("PUT", roomPath(roomID)+"/state/m.room.history_visibility", alice, map[string]any{"history_visibility": "joined"}), 200, "")
	ts.expect(ts.do("GET", roomPath(roomID)+"/messages?dir=b", bob, nil), 403, "M_FORBIDDEN")
	ts.expect(ts.do("GET", roomPath(roomID)+"/event/"+url.PathEscape(open), bob, nil), 403, "M_FORBIDDEN")
	// Carol reads up to her leave again, as any departed member.
	if got := bodies(ts.do("GET", roomPath(roomID)+"/messages?dir=b&limit=50", carol, nil)); !slices.Equal(got, []any{"said while world readable", "said while shared"}) {
		t.Fatalf("carol once the room is members-only: %v", got)
	}
}
