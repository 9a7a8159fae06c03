//go:build !js

package federation_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/matrix-org/gomatrixserverlib"

	"hearth/go/server"
	"hearth/go/storage"
)

// deviceKeys returns a device keys object for the user's device, signed by
// the device's own ed25519 key as clients sign it (forged: signed by another
// key), and a function that signs other objects (one-time keys) with the
// device's key.
func deviceKeys(t *testing.T, userID, deviceID string, forged bool) (map[string]any, func(map[string]any) map[string]any) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	keyID := "ed25519:" + deviceID
	sign := func(obj map[string]any, key ed25519.PrivateKey) map[string]any {
		raw, _ := json.Marshal(obj)
		signed, err := gomatrixserverlib.SignJSON(userID, gomatrixserverlib.KeyID(keyID), key, raw)
		if err != nil {
			t.Fatal(err)
		}
		var out map[string]any
		if err := json.Unmarshal(signed, &out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	dk := map[string]any{
		"user_id": userID, "device_id": deviceID,
		"algorithms": []string{"m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"},
		"keys":       map[string]string{keyID: base64.RawStdEncoding.EncodeToString(pub), "curve25519:" + deviceID: "Y3VydmU"},
	}
	signer := priv
	if forged {
		if _, signer, err = ed25519.GenerateKey(rand.Reader); err != nil {
			t.Fatal(err)
		}
	}
	return sign(dk, signer), func(obj map[string]any) map[string]any { return sign(obj, priv) }
}

func TestRemoteKeys(t *testing.T) {
	n := newNetwork(t)
	var aDB *storage.DB
	a := n.nodeWith(func(cfg *server.Config) { cfg.Queue, aDB = fastQueue, cfg.DB })
	b := n.node(fastQueue)
	nodes := []*node{a, b}
	alice, bob := a.register("alice"), b.register("bob")
	aliceDevice := alice.must("GET", "/_matrix/client/v3/account/whoami", nil).str("device_id")
	keys, sign := deviceKeys(t, alice.id, aliceDevice, false)
	alice.must("POST", "/_matrix/client/v3/keys/upload", map[string]any{
		"device_keys":   keys,
		"one_time_keys": map[string]any{"signed_curve25519:AAAA": sign(map[string]any{"key": "b3Rr"})},
	})
	// A second device of alice's whose keys are not signed by its own key.
	// A refuses them at upload; a server that does not (an older Hearth,
	// another implementation) would serve them, and B must not believe it:
	// they are written into A's database directly.
	forger := a.do("POST", "/_matrix/client/v3/login", "", map[string]any{
		"type": "m.login.password", "identifier": map[string]string{"type": "m.id.user", "user": "alice"}, "password": "correct horse",
	})
	forgedDevice := forger.str("device_id")
	forged, _ := deviceKeys(t, alice.id, forgedDevice, true)
	if r := a.do("POST", "/_matrix/client/v3/keys/upload", forger.str("access_token"), map[string]any{"device_keys": forged}); r.status != http.StatusBadRequest {
		t.Fatalf("forged device keys uploaded: %d %s", r.status, r.raw)
	}
	forgedRaw, _ := json.Marshal(forged)
	if err := aDB.Write(context.Background(), func(tx *sql.Tx) error {
		_, err := tx.Exec(`INSERT INTO device_keys (user_id, device_id, json) VALUES (?, ?, ?)`, alice.id, forgedDevice, forgedRaw)
		return err
	}); err != nil {
		t.Fatal(err)
	}

	t.Run("query", func(t *testing.T) {
		local := alice.must("POST", "/_matrix/client/v3/keys/query", map[string]any{"device_keys": map[string]any{alice.id: []string{}}})
		if _, ok := local.body["device_keys"].(map[string]any)[alice.id].(map[string]any)[forgedDevice]; !ok {
			t.Fatalf("A does not hold the forged device keys, so the test proves nothing: %s", local.raw)
		}
		r := bob.must("POST", "/_matrix/client/v3/keys/query", map[string]any{"device_keys": map[string]any{alice.id: []string{}}})
		devices, _ := r.body["device_keys"].(map[string]any)[alice.id].(map[string]any)
		if _, ok := devices[aliceDevice]; !ok {
			t.Fatalf("alice's device %s not seen from B: %s", aliceDevice, r.raw)
		}
		if _, ok := devices[forgedDevice]; ok {
			t.Fatalf("device keys with a bad self-signature were accepted from A: %s", r.raw)
		}
		if f, _ := r.body["failures"].(map[string]any); len(f) != 0 {
			t.Fatalf("failures: %v", f)
		}
	})
	t.Run("claim once", func(t *testing.T) {
		claim := map[string]any{"one_time_keys": map[string]any{alice.id: map[string]string{aliceDevice: "signed_curve25519"}}}
		r := bob.must("POST", "/_matrix/client/v3/keys/claim", claim)
		got, _ := r.body["one_time_keys"].(map[string]any)[alice.id].(map[string]any)[aliceDevice].(map[string]any)
		if _, ok := got["signed_curve25519:AAAA"]; !ok {
			t.Fatalf("claim from B: %s", r.raw)
		}
		r = bob.must("POST", "/_matrix/client/v3/keys/claim", claim)
		if otk, _ := r.body["one_time_keys"].(map[string]any); len(otk) != 0 {
			t.Fatalf("a one-time key was claimed twice: %s", r.raw)
		}
	})
	t.Run("peer offline", func(t *testing.T) {
		n.setOnline(a, false, nodes)
		defer n.setOnline(a, true, nodes)
		r := bob.must("POST", "/_matrix/client/v3/keys/query", map[string]any{"device_keys": map[string]any{alice.id: []string{}}})
		if f, _ := r.body["failures"].(map[string]any); f[string(a.name)] == nil {
			t.Fatalf("no failure for unreachable %s: %s", short(a.name), r.raw)
		}
	})
}

// upload posts raw bytes to the media repository.
func (u *user) upload(contentType, fileName string, data []byte) string {
	u.node.t.Helper()
	req := httptest.NewRequest("POST", "/_matrix/media/v3/upload?filename="+url.QueryEscape(fileName), bytes.NewReader(data))
	req.Header.Set("Authorization", "Bearer "+u.token)
	req.Header.Set("Content-Type", contentType)
	rec := httptest.NewRecorder()
	u.node.srv.ServeHTTP(rec, req)
	var body struct {
		ContentURI string `json:"content_uri"`
	}
	if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &body) != nil {
		u.node.t.Fatalf("upload: %d %s", rec.Code, rec.Body.Bytes())
	}
	return body.ContentURI
}

func TestRemoteMedia(t *testing.T) {
	n := newNetwork(t)
	nodes := n.nodes(2)
	a, b := nodes[0], nodes[1]
	alice, bob := a.register("alice"), b.register("bob")
	data := make([]byte, 1<<20)
	for i := range data {
		data[i] = byte(i)
	}
	mxc := alice.upload("application/octet-stream", "bytes.bin", data)
	path := "/_matrix/client/v1/media/download/" + strings.TrimPrefix(mxc, "mxc://")

	download := func() *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", path, nil)
		req.Header.Set("Authorization", "Bearer "+bob.token)
		rec := httptest.NewRecorder()
		b.srv.ServeHTTP(rec, req)
		return rec
	}
	rec := download()
	if rec.Code != http.StatusOK || !bytes.Equal(rec.Body.Bytes(), data) {
		t.Fatalf("download from B: %d, %d bytes, byte-exact %v", rec.Code, rec.Body.Len(), bytes.Equal(rec.Body.Bytes(), data))
	}
	if cd := rec.Header().Get("Content-Disposition"); !strings.Contains(cd, "bytes.bin") {
		t.Errorf("Content-Disposition = %q, want the file name", cd)
	}

	// Cached: B serves it with A gone.
	n.setOnline(a, false, nodes)
	if rec := download(); rec.Code != http.StatusOK || !bytes.Equal(rec.Body.Bytes(), data) {
		t.Fatalf("cached download with A offline: %d, %d bytes", rec.Code, rec.Body.Len())
	}
	n.setOnline(a, true, nodes)

	r := bob.do("GET", "/_matrix/client/v1/media/download/"+string(a.name)+"/nosuchmedia", nil)
	if r.status != http.StatusNotFound || r.str("errcode") != "M_NOT_FOUND" {
		t.Fatalf("unknown remote media: %d %s", r.status, r.raw)
	}

	// Unsigned requests are refused.
	req := httptest.NewRequest("GET", "/_matrix/federation/v1/media/download/"+strings.TrimPrefix(mxc, "mxc://"+string(a.name)+"/"), nil)
	rec = httptest.NewRecorder()
	a.srv.ServeHTTP(rec, req)
	if rec.Code != http.StatusUnauthorized {
		t.Fatalf("unsigned media download: %d", rec.Code)
	}
}

func TestRemoteProfile(t *testing.T) {
	n := newNetwork(t)
	nodes := n.nodes(2)
	a, b := nodes[0], nodes[1]
	alice, bob := a.register("alice"), b.register("bob")
	alice.must("PUT", "/_matrix/client/v3/profile/"+url.PathEscape(alice.id)+"/displayname", map[string]string{"displayname": "Alice A"})

	r := bob.must("GET", "/_matrix/client/v3/profile/"+url.PathEscape(alice.id), nil)
	if r.str("displayname") != "Alice A" {
		t.Fatalf("alice's profile from B: %s", r.raw)
	}
	r = bob.must("GET", "/_matrix/client/v3/profile/"+url.PathEscape(alice.id)+"/displayname", nil)
	if r.str("displayname") != "Alice A" {
		t.Fatalf("alice's display name from B: %s", r.raw)
	}
	r = bob.do("GET", "/_matrix/client/v3/profile/"+url.PathEscape("@nobody:"+string(a.name)), nil)
	if r.status != http.StatusNotFound || r.str("errcode") != "M_NOT_FOUND" {
		t.Fatalf("unknown remote user: %d %s", r.status, r.raw)
	}
}
