package keys

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"testing"

	"github.com/matrix-org/gomatrixserverlib"
)

func TestVerifyDeviceKeys(t *testing.T) {
	seed := make([]byte, ed25519.SeedSize)
	priv := ed25519.NewKeyFromSeed(seed)
	other := ed25519.NewKeyFromSeed(append(make([]byte, ed25519.SeedSize-1), 1))
	const uid, dev = "@alice:example.org", "DEV"
	sign := func(body map[string]any, key ed25519.PrivateKey) json.RawMessage {
		raw, _ := json.Marshal(body)
		signed, err := gomatrixserverlib.SignJSON(uid, "ed25519:"+dev, key, raw)
		if err != nil {
			t.Fatal(err)
		}
		return signed
	}
	body := func(user, device string) map[string]any {
		return map[string]any{
			"user_id": user, "device_id": device, "algorithms": []string{"m.megolm.v1.aes-sha2"},
			"keys": map[string]string{"ed25519:" + dev: base64.RawStdEncoding.EncodeToString(priv.Public().(ed25519.PublicKey))},
		}
	}
	valid := sign(body(uid, dev), priv)
	var tampered map[string]any
	_ = json.Unmarshal(valid, &tampered)
	tampered["algorithms"] = []string{"m.olm.v1.curve25519-aes-sha2"}
	tamperedRaw, _ := json.Marshal(tampered)
	unsigned, _ := json.Marshal(body(uid, dev))

	for _, tc := range []struct {
		name string
		raw  json.RawMessage
		ok   bool
	}{
		{"signed by its own key", valid, true},
		{"signed by another key", sign(body(uid, dev), other), false},
		{"content changed after signing", tamperedRaw, false},
		{"unsigned", unsigned, false},
		{"for another user", sign(body("@mallory:example.org", dev), priv), false},
		{"for another device", sign(body(uid, "OTHER"), priv), false},
		{"not JSON", json.RawMessage(`"x"`), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := VerifyDeviceKeys(uid, dev, tc.raw)
			if tc.ok && err != nil {
				t.Fatalf("rejected: %v", err)
			}
			if !tc.ok && !errors.Is(err, ErrBadKeys) {
				t.Fatalf("err = %v, want ErrBadKeys", err)
			}
		})
	}
}
