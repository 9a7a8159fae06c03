//go:build !js

package clientapi_test

import (
	"testing"
)

// Spec 1.11 §"POST /keys/claim": one-time keys are given out in the order
// they were uploaded, whatever their key IDs.
func TestOneTimeKeysClaimedInUploadOrder(t *testing.T) {
	ts := newServer(t)
	alice := ts.register("alice", "pw")
	bob := ts.register("bob", "pw")
	bobID, bobDev := "@bob:"+ts.name, ts.do("GET", v3+"/account/whoami", bob, nil).str("device_id")
	for _, id := range []string{"signed_curve25519:ZZZ", "signed_curve25519:AAA", "signed_curve25519:MMM"} {
		ts.expect(ts.do("POST", v3+"/keys/upload", bob, map[string]any{"one_time_keys": map[string]any{id: map[string]any{"key": id}}}), 200, "")
	}
	for _, want := range []string{"signed_curve25519:ZZZ", "signed_curve25519:AAA", "signed_curve25519:MMM"} {
		r := ts.do("POST", v3+"/keys/claim", alice, map[string]any{"one_time_keys": map[string]any{bobID: map[string]any{bobDev: "signed_curve25519"}}})
		ts.expect(r, 200, "")
		keys, _ := get(r.body, "one_time_keys", bobID, bobDev).(map[string]any)
		if _, ok := keys[want]; !ok || len(keys) != 1 {
			t.Fatalf("claimed %v, want %s", keys, want)
		}
	}
}
