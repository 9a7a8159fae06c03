package federation

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"

	"hearth/go/identity"
)

// keyRing verifies signatures with keys read from server names
// (identity.PublicKey): no key requests, no notary, no cache to poison.
// Only the key ID identity.KeyID exists; a signature under any other ID fails.
type keyRing struct{}

var _ gomatrixserverlib.JSONVerifier = keyRing{}

// VerifyJSONs implements gomatrixserverlib.JSONVerifier.
func (keyRing) VerifyJSONs(_ context.Context, requests []gomatrixserverlib.VerifyJSONRequest) ([]gomatrixserverlib.VerifyJSONResult, error) {
	results := make([]gomatrixserverlib.VerifyJSONResult, len(requests))
	for i, req := range requests {
		pub, err := identity.PublicKey(req.ServerName)
		if err != nil {
			results[i].Error = err
			continue
		}
		if err := gomatrixserverlib.VerifyJSON(string(req.ServerName), identity.KeyID, pub, req.Message); err != nil {
			results[i].Error = fmt.Errorf("signature of %s: %w", req.ServerName, err)
		}
	}
	return results, nil
}

// keyValidity is how long a key response says the key is valid: the key can
// never change (it is the server name), so this only bounds caches elsewhere.
const keyValidity = 7 * 24 * time.Hour

// serverKeys is the body of GET /_matrix/key/v2/server (server-server API,
// "Publishing Keys"), signed by the key it publishes.
func serverKeys(id identity.Identity, now time.Time) (json.RawMessage, error) {
	pub := id.Key.Public().(ed25519.PublicKey)
	raw, err := json.Marshal(map[string]any{
		"server_name":     id.ServerName,
		"valid_until_ts":  spec.AsTimestamp(now.Add(keyValidity)),
		"verify_keys":     map[string]any{string(identity.KeyID): map[string]string{"key": base64.RawStdEncoding.EncodeToString(pub)}},
		"old_verify_keys": map[string]any{},
	})
	if err != nil {
		return nil, fmt.Errorf("encode server keys: %w", err)
	}
	signed, err := gomatrixserverlib.SignJSON(string(id.ServerName), identity.KeyID, id.Key, raw)
	if err != nil {
		return nil, fmt.Errorf("sign server keys: %w", err)
	}
	return signed, nil
}
