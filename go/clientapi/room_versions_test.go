//go:build !js

package clientapi_test

import (
	"fmt"
	"net/url"
	"testing"
)

// Spec 1.11 §"Room versions" and §"GET /capabilities" (m.room_versions):
// every stable version, 1 to 12, is listed as stable, and a room of each
// can be created (POST /createRoom with room_version), joined, written to
// and read, and upgraded to the next; an unknown version is refused with 400
// M_UNSUPPORTED_ROOM_VERSION (§"POST /createRoom").
func TestEveryStableRoomVersion(t *testing.T) {
	ts := newServer(t)
	alice := ts.register("alice", "pw")
	bob := ts.register("bob", "pw")
	bobID := "@bob:" + ts.name

	caps := ts.do("GET", v3+"/capabilities", alice, nil)
	ts.expect(caps, 200, "")
	if get(caps.body, "capabilities", "m.room_versions", "default") != "11" {
		t.Fatalf("default version: %s", caps.raw)
	}
	for v := 1; v <= 12; v++ {
		if get(caps.body, "capabilities", "m.room_versions", "available", fmt.Sprint(v)) != "stable" {
			t.Fatalf("version %d not listed as stable: %s", v, caps.raw)
		}
	}
	for _, bad := range []string{"99", "org.example.custom", "0"} {
		ts.expect(ts.do("POST", v3+"/createRoom", alice, map[string]any{"room_version": bad}), 400, "M_UNSUPPORTED_ROOM_VERSION")
	}

	for v := 1; v <= 12; v++ {
		version := fmt.Sprint(v)
		t.Run("v"+version, func(t *testing.T) {
			roomID := ts.createRoom(alice, map[string]any{"preset": "public_chat", "room_version": version, "name": "Room v" + version})
			create := ts.do("GET", roomPath(roomID)+"/state/m.room.create/", alice, nil)
			ts.expect(create, 200, "")
			wantVersion := version
			if v == 1 {
				// Version 1 rooms may omit room_version in their create event
				// ("1" when absent): gomatrixserverlib's create content leaves
				// it out or names it; either is the spec's.
				if rv := create.str("room_version"); rv != "" && rv != "1" {
					t.Fatalf("create content: %s", create.raw)
				}
			} else if create.str("room_version") != wantVersion {
				t.Fatalf("create content: %s", create.raw)
			}
			ts.expect(ts.do("POST", roomPath(roomID)+"/join", bob, nil), 200, "")
			msg := ts.send(bob, roomID, "m"+version, "hello in v"+version)
			topic := ts.do("PUT", roomPath(roomID)+"/state/m.room.topic", alice, map[string]any{"topic": "topic v" + version})
			ts.expect(topic, 200, "")
			if got := ts.do("GET", roomPath(roomID)+"/state/m.room.topic", bob, nil); got.str("topic") != "topic v"+version {
				t.Fatalf("topic: %s", got.raw)
			}
			ev := ts.do("GET", roomPath(roomID)+"/event/"+url.PathEscape(msg), alice, nil)
			ts.expect(ev, 200, "")
			if get(ev.body, "content", "body") != "hello in v"+version || get(ev.body, "sender") != bobID {
				t.Fatalf("event: %s", ev.raw)
			}
			members := ts.do("GET", roomPath(roomID)+"/joined_members", alice, nil)
			if get(members.body, "joined", bobID) == nil {
				t.Fatalf("joined members: %s", members.raw)
			}
			msgs := ts.do("GET", roomPath(roomID)+"/messages?dir=b&limit=3", alice, nil)
			if get(msgs.body, "chunk", 0, "event_id") != topic.str("event_id") || get(msgs.body, "chunk", 1, "event_id") != msg {
				t.Fatalf("messages: %s", msgs.raw)
			}
			// Bob leaves and is banned: the membership rules of each version.
			ts.expect(ts.do("POST", roomPath(roomID)+"/leave", bob, nil), 200, "")
			ts.expect(ts.do("POST", roomPath(roomID)+"/ban", alice, map[string]any{"user_id": bobID}), 200, "")
			ts.expect(ts.do("POST", roomPath(roomID)+"/join", bob, nil), 403, "M_FORBIDDEN")
			sync := ts.do("GET", v3+"/sync", alice, nil)
			if get(sync.body, "rooms", "join", roomID) == nil {
				t.Fatalf("room not in alice's sync: %s", sync.raw)
			}
			// §"Room Upgrades": on to the next version, whose create event
			// (with content.creator up to version 10) names this room.
			if v == 12 {
				return
			}
			next := fmt.Sprint(v + 1)
			up := ts.do("POST", roomPath(roomID)+"/upgrade", alice, map[string]any{"new_version": next})
			ts.expect(up, 200, "")
			newCreate := ts.do("GET", roomPath(up.str("replacement_room"))+"/state/m.room.create/", alice, nil)
			if newCreate.str("room_version") != next || get(newCreate.body, "predecessor", "room_id") != roomID ||
				(v+1 <= 10) != (newCreate.str("creator") != "") {
				t.Fatalf("create of the upgraded room: %s", newCreate.raw)
			}
			if tomb := ts.do("GET", roomPath(roomID)+"/state/m.room.tombstone", alice, nil); tomb.str("replacement_room") != up.str("replacement_room") {
				t.Fatalf("tombstone: %s", tomb.raw)
			}
		})
	}
}
