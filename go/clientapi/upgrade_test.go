//go:build !js

package clientapi_test

import (
	"net/url"
	"testing"
)

// Spec 1.11 §"Room Upgrades": POST /rooms/{roomId}/upgrade makes a room of
// the new version whose create event names its predecessor, carries the
// state over, tombstones the old room and restricts it, and moves aliases.
func TestRoomUpgrade(t *testing.T) {
	ts := newServer(t)
	alice := ts.register("alice", "pw")
	bob := ts.register("bob", "pw")
	old := ts.createRoom(alice, map[string]any{"preset": "public_chat", "room_version": "10", "name": "Hall", "topic": "old topic", "visibility": "public"})
	ts.expect(ts.do("POST", roomPath(old)+"/join", bob, nil), 200, "")
	alias := "#hall:" + ts.name
	ts.expect(ts.do("PUT", v3+"/directory/room/"+url.PathEscape(alias), alice, map[string]any{"room_id": old}), 200, "")
	ts.expect(ts.do("PUT", roomPath(old)+"/state/m.room.canonical_alias", alice, map[string]any{"alias": alias}), 200, "")
	last := ts.send(alice, old, "t1", "last words")

	ts.expect(ts.do("POST", roomPath(old)+"/upgrade", bob, map[string]any{"new_version": "11"}), 403, "M_FORBIDDEN")
	ts.expect(ts.do("POST", roomPath(old)+"/upgrade", alice, map[string]any{"new_version": "999"}), 400, "M_UNSUPPORTED_ROOM_VERSION")
	up := ts.do("POST", roomPath(old)+"/upgrade", alice, map[string]any{"new_version": "11"})
	ts.expect(up, 200, "")
	replacement := up.str("replacement_room")

	create := ts.do("GET", roomPath(replacement)+"/state/m.room.create", alice, nil)
	if create.str("room_version") != "11" || get(create.body, "predecessor", "room_id") != old || get(create.body, "predecessor", "event_id") != last {
		t.Fatalf("create of the new room: %s", create.raw)
	}
	for typ, key := range map[string]string{"m.room.name": "name", "m.room.topic": "topic"} {
		if r := ts.do("GET", roomPath(replacement)+"/state/"+typ, alice, nil); r.str(key) == "" {
			t.Fatalf("%s not carried over: %s", typ, r.raw)
		}
	}
	if r := ts.do("GET", roomPath(replacement)+"/state/m.room.join_rules", alice, nil); r.str("join_rule") != "public" {
		t.Fatalf("join rule: %s", r.raw)
	}
	tomb := ts.do("GET", roomPath(old)+"/state/m.room.tombstone", alice, nil)
	if tomb.str("replacement_room") != replacement {
		t.Fatalf("tombstone: %s", tomb.raw)
	}
	ts.expect(ts.do("PUT", roomPath(old)+"/send/m.room.message/t2", bob, map[string]any{"msgtype": "m.text", "body": "hi"}), 403, "M_FORBIDDEN")
	if r := ts.do("GET", v3+"/directory/room/"+url.PathEscape(alias), "", nil); r.str("room_id") != replacement {
		t.Fatalf("alias after the upgrade: %s", r.raw)
	}
	if r := ts.do("GET", roomPath(replacement)+"/state/m.room.canonical_alias", alice, nil); r.str("alias") != alias {
		t.Fatalf("canonical alias of the new room: %s", r.raw)
	}
	if r := ts.do("GET", v3+"/directory/list/room/"+replacement, "", nil); r.str("visibility") != "public" {
		t.Fatalf("directory entry: %s", r.raw)
	}
	// Bob follows the tombstone.
	ts.expect(ts.do("POST", roomPath(replacement)+"/join", bob, nil), 200, "")
}
