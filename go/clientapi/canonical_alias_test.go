//go:build !js

package clientapi_test

import (
	"net/url"
	"testing"
)

// Spec 1.11 §"m.room.canonical_alias" and §"PUT /rooms/{roomId}/state/…":
// new aliases must be well formed, exist and point to the room (400
// M_BAD_ALIAS); deleting an alias takes it out of the canonical alias event.
func TestCanonicalAliasValidation(t *testing.T) {
	ts := newServer(t)
	alice := ts.register("alice", "pw")
	kitchen := ts.createRoom(alice, nil)
	garden := ts.createRoom(alice, nil)
	mine, elsewhere := "#kitchen:"+ts.name, "#garden:"+ts.name
	ts.expect(ts.do("PUT", v3+"/directory/room/"+url.PathEscape(mine), alice, map[string]any{"room_id": kitchen}), 200, "")
	ts.expect(ts.do("PUT", v3+"/directory/room/"+url.PathEscape(elsewhere), alice, map[string]any{"room_id": garden}), 200, "")
	put := func(content map[string]any) response {
		return ts.do("PUT", roomPath(kitchen)+"/state/m.room.canonical_alias", alice, content)
	}
	ts.expect(put(map[string]any{"alias": "not-an-alias"}), 400, "M_BAD_ALIAS")
	ts.expect(put(map[string]any{"alias": "#nobody:" + ts.name}), 400, "M_BAD_ALIAS")
	ts.expect(put(map[string]any{"alias": elsewhere}), 400, "M_BAD_ALIAS")
	ts.expect(put(map[string]any{"alt_aliases": []string{mine, elsewhere}}), 400, "M_BAD_ALIAS")
	ts.expect(put(map[string]any{"alias": 5}), 400, "M_BAD_JSON")
	ts.expect(put(map[string]any{"alias": mine, "alt_aliases": []string{mine}}), 200, "")

	ts.expect(ts.do("DELETE", v3+"/directory/room/"+url.PathEscape(mine), alice, nil), 200, "")
	ev := ts.do("GET", roomPath(kitchen)+"/state/m.room.canonical_alias", alice, nil)
	ts.expect(ev, 200, "")
	if ev.str("alias") != "" || ev.body["alt_aliases"] != nil {
		t.Fatalf("canonical alias after deleting the alias: %s", ev.raw)
	}
	// Removing an alias that no longer exists is not checked.
	ts.expect(put(map[string]any{}), 200, "")
}
