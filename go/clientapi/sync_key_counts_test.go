//go:build !js

package clientapi_test

import (
	"net/url"
	"testing"
)

// A /sync with no new data answers its key counts from what the last one
// read (keys.ForSync): uploads and claims, which move no sync stream, must
// still show in the next /sync with the same token.
func TestSyncKeyCountsFollowUploadsAndClaimsWithoutNewData(t *testing.T) {
	ts := newServer(t)
	alice := ts.register("alice", "pw")
	bob := ts.register("bob", "pw")
	bobID := "@bob:" + ts.name
	bobDev := ts.whoamiDevice(bob)
	bobKeys := newTestDevice(t, bobID, bobDev)
	ts.expect(ts.do("POST", v3+"/keys/upload", bob, map[string]any{"device_keys": bobKeys.deviceKeys()}), 200, "")
	since := ts.do("GET", v3+"/sync", bob, nil).str("next_batch")

	sync := func(step string, wantOTKs float64, wantFallback int) {
		t.Helper()
		r := ts.do("GET", v3+"/sync?timeout=0&since="+url.QueryEscape(since), bob, nil)
		ts.expect(r, 200, "")
		if r.str("next_batch") != since {
			t.Fatalf("%s: the token moved (%s → %s), so this /sync read the counts again", step, since, r.str("next_batch"))
		}
		otks, _ := get(r.body, "device_one_time_keys_count", "signed_curve25519").(float64)
		fallback, _ := r.body["device_unused_fallback_key_types"].([]any)
		if otks != wantOTKs || len(fallback) != wantFallback {
			t.Fatalf("%s: %v one-time keys and %d unused fallback keys, want %v and %d: %s", step, otks, len(fallback), wantOTKs, wantFallback, r.raw)
		}
	}
	sync("before any one-time key", 0, 0)
	sync("again, from memory", 0, 0)

	ts.expect(ts.do("POST", v3+"/keys/upload", bob, map[string]any{
		"one_time_keys": map[string]any{"signed_curve25519:A": bobKeys.signedKey("k1"), "signed_curve25519:B": bobKeys.signedKey("k2")},
		"fallback_keys": map[string]any{"signed_curve25519:F": bobKeys.fallbackKey("fb")},
	}), 200, "")
	sync("after the upload", 2, 1)

	claim := func() {
		t.Helper()
		ts.expect(ts.do("POST", v3+"/keys/claim", alice, map[string]any{
			"one_time_keys": map[string]any{bobID: map[string]any{bobDev: "signed_curve25519"}}}), 200, "")
	}
	claim()
	sync("after a claim", 1, 1)
	claim()
	claim() // the fallback key, once the one-time keys are gone
	sync("after the fallback key was claimed", 0, 0)
}
