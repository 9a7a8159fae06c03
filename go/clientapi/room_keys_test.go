//go:build !js

package clientapi_test

import (
	"testing"
)

// Spec 1.11 §"Server-side key backups": versions are created, read, updated
// and deleted; keys go to the current version only (403
// M_WRONG_ROOM_KEYS_VERSION otherwise), and a key replaces the one held only
// if it is better: verified, then lower first_message_index, then lower
// forwarded_count.
func TestKeyBackup(t *testing.T) {
	ts := newServer(t)
	alice := ts.register("alice", "pw")
	algorithm := "m.megolm_backup.v1.curve25519-aes-sha2"
	ts.expect(ts.do("GET", v3+"/room_keys/version", alice, nil), 404, "M_NOT_FOUND")
	ts.expect(ts.do("POST", v3+"/room_keys/version", alice, map[string]any{"algorithm": algorithm}), 400, "M_INVALID_PARAM")
	created := ts.do("POST", v3+"/room_keys/version", alice, map[string]any{"algorithm": algorithm, "auth_data": map[string]any{"public_key": "abc"}})
	ts.expect(created, 200, "")
	v1 := created.str("version")

	current := ts.do("GET", v3+"/room_keys/version", alice, nil)
	ts.expect(current, 200, "")
	if current.str("version") != v1 || current.str("algorithm") != algorithm || get(current.body, "auth_data", "public_key") != "abc" ||
		current.body["count"] != 0.0 || current.str("etag") == "" {
		t.Fatalf("current version: %s", current.raw)
	}
	ts.expect(ts.do("PUT", v3+"/room_keys/version/"+v1, alice, map[string]any{"algorithm": algorithm, "auth_data": map[string]any{"public_key": "def"}, "version": "99"}), 400, "M_INVALID_PARAM")
	ts.expect(ts.do("PUT", v3+"/room_keys/version/"+v1, alice, map[string]any{"algorithm": "other", "auth_data": map[string]any{}}), 400, "M_INVALID_PARAM")
	ts.expect(ts.do("PUT", v3+"/room_keys/version/"+v1, alice, map[string]any{"algorithm": algorithm, "auth_data": map[string]any{"public_key": "def"}}), 200, "")
	ts.expect(ts.do("PUT", v3+"/room_keys/version/77", alice, map[string]any{"algorithm": algorithm, "auth_data": map[string]any{}}), 404, "M_NOT_FOUND")

	key := func(index, forwarded int, verified bool, data string) map[string]any {
		return map[string]any{"first_message_index": index, "forwarded_count": forwarded, "is_verified": verified, "session_data": map[string]any{"ciphertext": data}}
	}
	keyPath := v3 + "/room_keys/keys/!room:x/sess?version=" + v1
	put := ts.do("PUT", keyPath, alice, key(5, 1, false, "first"))
	ts.expect(put, 200, "")
	if put.body["count"] != 1.0 {
		t.Fatalf("put: %s", put.raw)
	}
	etag := put.str("etag")
	held := func() string {
		r := ts.do("GET", keyPath, alice, nil)
		ts.expect(r, 200, "")
		s, _ := get(r.body, "session_data", "ciphertext").(string)
		return s
	}
	for _, tc := range []struct {
		name string
		key  map[string]any
		want string
	}{
		{"higher index loses", key(6, 0, false, "worse index"), "first"},
		{"lower index wins", key(3, 1, false, "better index"), "better index"},
		{"more forwards lose", key(3, 2, false, "more forwards"), "better index"},
		{"fewer forwards win", key(3, 0, false, "fewer forwards"), "fewer forwards"},
		{"verified wins over a lower index", key(9, 9, true, "verified"), "verified"},
		{"unverified loses to verified", key(0, 0, false, "unverified"), "verified"},
	} {
		ts.expect(ts.do("PUT", keyPath, alice, tc.key), 200, "")
		if got := held(); got != tc.want {
			t.Fatalf("%s: held %q, want %q", tc.name, got, tc.want)
		}
	}
	all := ts.do("PUT", v3+"/room_keys/keys?version="+v1, alice, map[string]any{"rooms": map[string]any{
		"!other:x": map[string]any{"sessions": map[string]any{"s2": key(0, 0, false, "two")}},
	}})
	ts.expect(all, 200, "")
	if all.body["count"] != 2.0 || all.str("etag") == etag {
		t.Fatalf("bulk put: %s", all.raw)
	}
	rooms := ts.do("GET", v3+"/room_keys/keys?version="+v1, alice, nil)
	if get(rooms.body, "rooms", "!other:x", "sessions", "s2", "session_data", "ciphertext") != "two" {
		t.Fatalf("all keys: %s", rooms.raw)
	}
	if r := ts.do("GET", v3+"/room_keys/keys/!none:x?version="+v1, alice, nil); r.status != 200 || len(r.body["sessions"].(map[string]any)) != 0 {
		t.Fatalf("room without keys: %s", r.raw)
	}
	ts.expect(ts.do("GET", v3+"/room_keys/keys/!none:x/nothing?version="+v1, alice, nil), 404, "M_NOT_FOUND")
	ts.expect(ts.do("GET", v3+"/room_keys/keys", alice, nil), 400, "M_MISSING_PARAM")

	// A new version becomes current: keys for the old one are refused.
	v2 := ts.do("POST", v3+"/room_keys/version", alice, map[string]any{"algorithm": algorithm, "auth_data": map[string]any{}}).str("version")
	wrong := ts.do("PUT", keyPath, alice, key(0, 0, true, "late"))
	ts.expect(wrong, 403, "M_WRONG_ROOM_KEYS_VERSION")
	if wrong.str("current_version") != v2 {
		t.Fatalf("wrong version: %s", wrong.raw)
	}
	del := ts.do("DELETE", v3+"/room_keys/keys/!other:x?version="+v1, alice, nil)
	if del.status != 200 || del.body["count"] != 1.0 {
		t.Fatalf("delete a room's keys: %s", del.raw)
	}
	ts.expect(ts.do("DELETE", v3+"/room_keys/version/"+v2, alice, nil), 200, "")
	ts.expect(ts.do("GET", v3+"/room_keys/version/"+v2, alice, nil), 404, "M_NOT_FOUND")
	if r := ts.do("GET", v3+"/room_keys/version", alice, nil); r.str("version") != v1 {
		t.Fatalf("after deleting v2 the current version is %s", r.raw)
	}
	v3 := ts.do("POST", v3+"/room_keys/version", alice, map[string]any{"algorithm": algorithm, "auth_data": map[string]any{}}).str("version")
	if v3 == v2 {
		t.Fatal("a deleted version's number was handed out again")
	}
}
