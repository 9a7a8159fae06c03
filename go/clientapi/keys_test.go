//go:build !js

package clientapi_test

import (
	"net/url"
	"testing"
)

func TestKeysAndToDevice(t *testing.T) {
	ts := newServer(t)
	alice := ts.register("alice", "pw")
	bob := ts.register("bob", "pw")
	aliceID, bobID := "@alice:"+ts.name, "@bob:"+ts.name
	aliceDev := ts.whoamiDevice(alice)
	bobDev := ts.whoamiDevice(bob)
	roomID := ts.createRoom(alice, map[string]any{"preset": "public_chat"})
	ts.expect(ts.do("POST", roomPath(roomID)+"/join", bob, nil), 200, "")
	aliceSince := ts.do("GET", v3+"/sync", alice, nil).str("next_batch")

	bobKeys := newTestDevice(t, bobID, bobDev)
	up := ts.do("POST", v3+"/keys/upload", bob, map[string]any{
		"device_keys":   bobKeys.deviceKeys(),
		"one_time_keys": map[string]any{"signed_curve25519:A": bobKeys.signedKey("k1"), "signed_curve25519:B": bobKeys.signedKey("k2")},
		"fallback_keys": map[string]any{"signed_curve25519:F": bobKeys.fallbackKey("fb")},
	})
	ts.expect(up, 200, "")
	if get(up.body, "one_time_key_counts", "signed_curve25519") != 2.0 {
		t.Fatalf("upload: %s", up.raw)
	}
	// Both counts come from one statement: each part must still be its own.
	fresh := ts.do("GET", v3+"/sync", bob, nil)
	if get(fresh.body, "device_one_time_keys_count", "signed_curve25519") != 2.0 || get(fresh.body, "device_unused_fallback_key_types", 0) != "signed_curve25519" {
		t.Fatalf("keys in bob's sync after the upload: %s", fresh.raw)
	}
	ts.expect(ts.do("POST", v3+"/keys/upload", bob, map[string]any{"device_keys": map[string]any{"user_id": aliceID, "device_id": bobDev}}), 400, "M_INVALID_PARAM")

	// Alice learns that bob's devices changed, then queries and claims.
	r := ts.do("GET", v3+"/sync?since="+aliceSince, alice, nil)
	if get(r.body, "device_lists", "changed", 0) != bobID {
		t.Fatalf("device_lists.changed: %s", r.raw)
	}
	ch := ts.do("GET", v3+"/keys/changes?from="+url.QueryEscape(aliceSince)+"&to="+url.QueryEscape(r.str("next_batch")), alice, nil)
	if get(ch.body, "changed", 0) != bobID {
		t.Fatalf("keys/changes: %s", ch.raw)
	}
	q := ts.do("POST", v3+"/keys/query", alice, map[string]any{"device_keys": map[string]any{bobID: []string{}, "@x:other.server": []string{}}})
	if get(q.body, "device_keys", bobID, bobDev, "keys", "ed25519:"+bobDev) != bobKeys.edKey() || get(q.body, "failures", "other.server") == nil {
		t.Fatalf("query: %s", q.raw)
	}
	claim := func() map[string]any {
		c := ts.do("POST", v3+"/keys/claim", alice, map[string]any{"one_time_keys": map[string]any{bobID: map[string]any{bobDev: "signed_curve25519"}}})
		ts.expect(c, 200, "")
		m, _ := get(c.body, "one_time_keys", bobID, bobDev).(map[string]any)
		return m
	}
	first, second, third := claim(), claim(), claim()
	if first["signed_curve25519:A"] == nil || second["signed_curve25519:B"] == nil || third["signed_curve25519:F"] == nil {
		t.Fatalf("claims: %v %v %v", first, second, third)
	}
	bobSync := ts.do("GET", v3+"/sync", bob, nil)
	if get(bobSync.body, "device_one_time_keys_count", "signed_curve25519") != 0.0 {
		t.Fatalf("otk count: %s", bobSync.raw)
	}
	if fb, _ := bobSync.body["device_unused_fallback_key_types"].([]any); len(fb) != 0 {
		t.Fatalf("used fallback key still reported unused: %s", bobSync.raw)
	}

	// To-device: delivered in the next sync, again until acknowledged, then gone.
	ts.expect(ts.do("PUT", v3+"/sendToDevice/m.room_key_request/t1", alice, map[string]any{
		"messages": map[string]any{bobID: map[string]any{"*": map[string]any{"hello": "bob"}}}}), 200, "")
	// A retried transaction delivers nothing twice.
	ts.expect(ts.do("PUT", v3+"/sendToDevice/m.room_key_request/t1", alice, map[string]any{
		"messages": map[string]any{bobID: map[string]any{"*": map[string]any{"hello": "bob"}}}}), 200, "")
	s1 := ts.do("GET", v3+"/sync?since="+bobSync.str("next_batch"), bob, nil)
	if evs, _ := get(s1.body, "to_device", "events").([]any); len(evs) != 1 {
		t.Fatalf("%d to-device messages, want 1: %s", len(evs), s1.raw)
	}
	if get(s1.body, "to_device", "events", 0, "sender") != aliceID || get(s1.body, "to_device", "events", 0, "content", "hello") != "bob" {
		t.Fatalf("to_device: %s", s1.raw)
	}
	again := ts.do("GET", v3+"/sync?since="+bobSync.str("next_batch"), bob, nil)
	if get(again.body, "to_device", "events", 0) == nil {
		t.Fatalf("unacknowledged to-device message lost: %s", again.raw)
	}
	s2 := ts.do("GET", v3+"/sync?timeout=0&since="+s1.str("next_batch"), bob, nil)
	if evs, _ := get(s2.body, "to_device", "events").([]any); len(evs) != 0 {
		t.Fatalf("acknowledged to-device message delivered again: %s", s2.raw)
	}
	_ = aliceDev
}

func TestCrossSigning(t *testing.T) {
	ts := newServer(t)
	alice := ts.register("alice", "pw")
	bob := ts.register("bob", "pw")
	aliceID := "@alice:" + ts.name
	dev := ts.whoamiDevice(alice)
	ts.expect(ts.do("POST", v3+"/keys/upload", alice, map[string]any{"device_keys": newTestDevice(t, aliceID, dev).deviceKeys()}), 200, "")
	key := func(usage, pub string) map[string]any {
		return map[string]any{"user_id": aliceID, "usage": []string{usage}, "keys": map[string]any{"ed25519:" + pub: pub}}
	}
	upload := map[string]any{"master_key": key("master", "MPUB"), "self_signing_key": key("self_signing", "SPUB"), "user_signing_key": key("user_signing", "UPUB")}
	ts.expect(ts.do("POST", v3+"/keys/device_signing/upload", alice, upload), 401, "")
	upload["auth"] = map[string]any{"type": "m.login.dummy"}
	ts.expect(ts.do("POST", v3+"/keys/device_signing/upload", alice, upload), 200, "")
	bad := map[string]any{"master_key": key("self_signing", "X"), "auth": map[string]any{"type": "m.login.dummy"}}
	ts.expect(ts.do("POST", v3+"/keys/device_signing/upload", alice, bad), 400, "M_INVALID_PARAM")

	// Alice's self-signing key signs her device, and her master key signs itself.
	sig := ts.do("POST", v3+"/keys/signatures/upload", alice, map[string]any{aliceID: map[string]any{
		dev:    map[string]any{"signatures": map[string]any{aliceID: map[string]any{"ed25519:SPUB": "sig-of-device"}}},
		"MPUB": map[string]any{"signatures": map[string]any{aliceID: map[string]any{"ed25519:" + dev: "sig-of-master"}}},
		"NOPE": map[string]any{"signatures": map[string]any{aliceID: map[string]any{"ed25519:x": "y"}}},
	}})
	ts.expect(sig, 200, "")
	if get(sig.body, "failures", aliceID, "NOPE") == nil || get(sig.body, "failures", aliceID, dev) != nil {
		t.Fatalf("signature failures: %s", sig.raw)
	}

	q := ts.do("POST", v3+"/keys/query", bob, map[string]any{"device_keys": map[string]any{aliceID: []string{}}})
	if get(q.body, "master_keys", aliceID, "keys", "ed25519:MPUB") != "MPUB" || get(q.body, "self_signing_keys", aliceID) == nil {
		t.Fatalf("bob's query lacks alice's cross-signing keys: %s", q.raw)
	}
	if get(q.body, "user_signing_keys", aliceID) != nil {
		t.Fatalf("alice's user-signing key shown to bob: %s", q.raw)
	}
	if get(q.body, "device_keys", aliceID, dev, "signatures", aliceID, "ed25519:SPUB") != "sig-of-device" ||
		get(q.body, "master_keys", aliceID, "signatures", aliceID, "ed25519:"+dev) != "sig-of-master" {
		t.Fatalf("signatures not merged: %s", q.raw)
	}
	own := ts.do("POST", v3+"/keys/query", alice, map[string]any{"device_keys": map[string]any{aliceID: []string{}}})
	if get(own.body, "user_signing_keys", aliceID) == nil {
		t.Fatalf("alice does not get her own user-signing key: %s", own.raw)
	}
}
