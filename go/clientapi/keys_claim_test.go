//go:build !js

package clientapi_test

import (
	"encoding/json"
	"strings"
	"testing"
)

// Spec 1.11 §"POST /keys/claim": one-time keys are given out in the order
// they were uploaded, whatever their key IDs. Within one upload the spec
// names no order; Hearth keeps the order the client wrote them in.
func TestOneTimeKeysClaimedInUploadOrder(t *testing.T) {
	ts := newServer(t)
	alice := ts.register("alice", "pw")
	bob := ts.register("bob", "pw")
	bobID, bobDev := "@bob:"+ts.name, ts.whoamiDevice(bob)
	dev := newTestDevice(t, bobID, bobDev)
	ts.expect(ts.do("POST", v3+"/keys/upload", bob, map[string]any{"device_keys": dev.deviceKeys()}), 200, "")
	for _, id := range []string{"signed_curve25519:ZZZ", "signed_curve25519:AAA", "signed_curve25519:MMM"} {
		ts.expect(ts.do("POST", v3+"/keys/upload", bob, map[string]any{"one_time_keys": map[string]any{id: dev.signedKey(id)}}), 200, "")
	}
	// One upload whose keys are written out of alphabetical order (a Go map
	// would be marshalled sorted, so the body is written by hand).
	inOne := []string{"signed_curve25519:Y2", "signed_curve25519:B7", "signed_curve25519:Q0", "signed_curve25519:A1"}
	var body strings.Builder
	body.WriteString(`{"one_time_keys":{`)
	for i, id := range inOne {
		key, _ := json.Marshal(dev.signedKey(id))
		if i > 0 {
			body.WriteByte(',')
		}
		body.WriteString(`"` + id + `":` + string(key))
	}
	body.WriteString(`}}`)
	up := ts.do("POST", v3+"/keys/upload", bob, body.String())
	ts.expect(up, 200, "")
	if get(up.body, "one_time_key_counts", "signed_curve25519") != 7.0 {
		t.Fatalf("counts: %s", up.raw)
	}
	for _, want := range append([]string{"signed_curve25519:ZZZ", "signed_curve25519:AAA", "signed_curve25519:MMM"}, inOne...) {
		r := ts.do("POST", v3+"/keys/claim", alice, map[string]any{"one_time_keys": map[string]any{bobID: map[string]any{bobDev: "signed_curve25519"}}})
		ts.expect(r, 200, "")
		keys, _ := get(r.body, "one_time_keys", bobID, bobDev).(map[string]any)
		if _, ok := keys[want]; !ok || len(keys) != 1 {
			t.Fatalf("claimed %v, want %s", keys, want)
		}
		if get(keys[want], "key") != want || get(keys[want], "signatures", bobID, "ed25519:"+bobDev) == nil {
			t.Fatalf("claimed key lost its content or signature: %v", keys[want])
		}
	}
}

// Spec 1.11 §"Device keys": device keys are signed by the device's own
// ed25519 key, and §"Key algorithms": a signed_curve25519 key is signed by
// the device's ed25519 key. Uploads whose signatures do not verify are
// refused (400 M_INVALID_PARAM) and change nothing: another client would
// otherwise be served keys it must throw away, and forged one-time keys
// would break the Olm sessions made with them.
func TestKeyUploadChecksSignatures(t *testing.T) {
	ts := newServer(t)
	alice := ts.register("alice", "pw")
	bob := ts.register("bob", "pw")
	bobID, bobDev := "@bob:"+ts.name, ts.whoamiDevice(bob)
	dev := newTestDevice(t, bobID, bobDev)
	impostor := newTestDevice(t, bobID, bobDev) // another key claiming the same device

	tampered := dev.deviceKeys()
	tampered["algorithms"] = []string{"m.olm.v1.curve25519-aes-sha2"}
	swappedKey := impostor.deviceKeys()
	swappedKey["keys"].(map[string]any)["ed25519:"+bobDev] = dev.edKey() // signed by one key, naming another
	unsigned := dev.deviceKeys()
	delete(unsigned, "signatures")
	otherDevice := newTestDevice(t, bobID, "NOTMINE").deviceKeys()
	for name, dk := range map[string]map[string]any{
		"changed after signing": tampered, "signed by another key": swappedKey,
		"unsigned": unsigned, "another device's": otherDevice,
	} {
		r := ts.do("POST", v3+"/keys/upload", bob, map[string]any{"device_keys": dk, "one_time_keys": map[string]any{"signed_curve25519:X": dev.signedKey("x")}})
		if r.status != 400 || r.str("errcode") != "M_INVALID_PARAM" {
			t.Fatalf("device keys %s: got %d %s, want 400 M_INVALID_PARAM", name, r.status, r.raw)
		}
	}
	query := func() response {
		return ts.do("POST", v3+"/keys/query", alice, map[string]any{"device_keys": map[string]any{bobID: []string{}}})
	}
	if devices, _ := get(query().body, "device_keys", bobID).(map[string]any); len(devices) != 0 {
		t.Fatalf("refused device keys were stored: %v", devices)
	}

	// A signed one-time key needs the device's keys to be checked against.
	ts.expect(ts.do("POST", v3+"/keys/upload", bob, map[string]any{"one_time_keys": map[string]any{"signed_curve25519:X": dev.signedKey("x")}}), 400, "M_INVALID_PARAM")

	// Good device keys with one bad one-time key: the whole upload is refused.
	badKey := impostor.signedKey("forged")
	r := ts.do("POST", v3+"/keys/upload", bob, map[string]any{
		"device_keys":   dev.deviceKeys(),
		"one_time_keys": map[string]any{"signed_curve25519:GOOD": dev.signedKey("good"), "signed_curve25519:BAD": badKey},
	})
	ts.expect(r, 400, "M_INVALID_PARAM")
	if devices, _ := get(query().body, "device_keys", bobID).(map[string]any); len(devices) != 0 {
		t.Fatalf("a refused upload stored its device keys: %v", devices)
	}

	// The good upload, then keys checked against the stored device keys.
	ts.expect(ts.do("POST", v3+"/keys/upload", bob, map[string]any{"device_keys": dev.deviceKeys()}), 200, "")
	ts.expect(ts.do("POST", v3+"/keys/upload", bob, map[string]any{"fallback_keys": map[string]any{"signed_curve25519:F": impostor.fallbackKey("f")}}), 400, "M_INVALID_PARAM")
	changed := dev.signedKey("y")
	changed["key"] = "z"
	ts.expect(ts.do("POST", v3+"/keys/upload", bob, map[string]any{"one_time_keys": map[string]any{"signed_curve25519:Y": changed}}), 400, "M_INVALID_PARAM")
	ts.expect(ts.do("POST", v3+"/keys/upload", bob, map[string]any{"one_time_keys": map[string]any{"signed_curve25519": dev.signedKey("noid")}}), 400, "M_INVALID_PARAM")
	ok := ts.do("POST", v3+"/keys/upload", bob, map[string]any{
		"one_time_keys": map[string]any{"signed_curve25519:Y": dev.signedKey("y"), "curve25519:U": "dW5zaWduZWQ"},
		"fallback_keys": map[string]any{"signed_curve25519:F": dev.fallbackKey("f")},
	})
	ts.expect(ok, 200, "")
	if get(ok.body, "one_time_key_counts", "signed_curve25519") != 1.0 || get(ok.body, "one_time_key_counts", "curve25519") != 1.0 {
		t.Fatalf("counts after the refused uploads: %s", ok.raw)
	}
	if get(query().body, "device_keys", bobID, bobDev, "keys", "ed25519:"+bobDev) != dev.edKey() {
		t.Fatalf("query: %s", query().raw)
	}
}
