//go:build !js

package clientapi_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"testing"

	"github.com/matrix-org/gomatrixserverlib"
)

// testDevice makes the keys a real E2EE client uploads for one device: an
// ed25519 identity key that signs the device keys and its signed_curve25519
// one-time keys (client-server API, "Device keys" and "Key algorithms").
type testDevice struct {
	t                *testing.T
	userID, deviceID string
	pub              ed25519.PublicKey
	priv             ed25519.PrivateKey
}

func newTestDevice(t *testing.T, userID, deviceID string) *testDevice {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &testDevice{t: t, userID: userID, deviceID: deviceID, pub: pub, priv: priv}
}

// edKey is the device's ed25519 public key as it appears in its keys.
func (d *testDevice) edKey() string { return base64.RawStdEncoding.EncodeToString(d.pub) }

// sign adds the device's signature to obj, the way a client signs JSON
// (canonical JSON without signatures and unsigned).
func (d *testDevice) sign(obj map[string]any) map[string]any {
	d.t.Helper()
	raw, err := json.Marshal(obj)
	if err != nil {
		d.t.Fatal(err)
	}
	signed, err := gomatrixserverlib.SignJSON(d.userID, gomatrixserverlib.KeyID("ed25519:"+d.deviceID), d.priv, raw)
	if err != nil {
		d.t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(signed, &out); err != nil {
		d.t.Fatal(err)
	}
	return out
}

// deviceKeys is the device's signed device_keys object.
func (d *testDevice) deviceKeys() map[string]any {
	return d.sign(map[string]any{
		"user_id": d.userID, "device_id": d.deviceID,
		"algorithms": []string{"m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"},
		"keys": map[string]any{
			"ed25519:" + d.deviceID:    d.edKey(),
			"curve25519:" + d.deviceID: base64.RawStdEncoding.EncodeToString([]byte("curve-" + d.deviceID)),
		},
	})
}

// signedKey is a signed_curve25519 one-time key object carrying key.
func (d *testDevice) signedKey(key string) map[string]any {
	return d.sign(map[string]any{"key": key})
}

// fallbackKey is a signed fallback key object carrying key.
func (d *testDevice) fallbackKey(key string) map[string]any {
	return d.sign(map[string]any{"key": key, "fallback": true})
}
