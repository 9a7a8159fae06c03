//go:build !js

package clientapi_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"hearth/go/clientapi"
	"hearth/go/server"
)

// Issue 11, defect 9: with a token set, registration asks for it
// (m.login.registration_token) instead of the dummy stage.
func TestRegistrationToken(t *testing.T) {
	ts := startServerWith(t, filepath.Join(t.TempDir(), "hearth.db"), server.Config{
		Client: clientapi.Policy{RegistrationToken: "s3cret"},
	})
	first := ts.do("POST", v3+"/register", "", map[string]any{"username": "bot", "password": "pw"})
	ts.expect(first, 401, "")
	if !strings.Contains(string(first.raw), "m.login.registration_token") || strings.Contains(string(first.raw), "m.login.dummy") {
		t.Fatalf("flows: %s", first.raw)
	}
	dummy := ts.do("POST", v3+"/register", "", map[string]any{"username": "bot", "password": "pw",
		"auth": map[string]any{"type": "m.login.dummy", "session": first.str("session")}})
	ts.expect(dummy, 401, "M_UNAUTHORIZED")
	wrong := ts.do("POST", v3+"/register", "", map[string]any{"username": "bot", "password": "pw",
		"auth": map[string]any{"type": "m.login.registration_token", "token": "guess", "session": first.str("session")}})
	ts.expect(wrong, 401, "M_FORBIDDEN")
	if wrong.str("session") != first.str("session") {
		t.Fatalf("session not kept: %s", wrong.raw)
	}
	ok := ts.do("POST", v3+"/register", "", map[string]any{"username": "bot", "password": "pw",
		"auth": map[string]any{"type": "m.login.registration_token", "token": "s3cret", "session": first.str("session")}})
	ts.expect(ok, 200, "")
}

// Issue 11, defect 10: registration was unlimited (about 11/s).
func TestRegistrationRateLimit(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	ts := startServerWith(t, filepath.Join(t.TempDir(), "hearth.db"), server.Config{
		Client: clientapi.Policy{Registrations: clientapi.RateLimit{Burst: 2, Every: time.Minute}, Now: func() time.Time { return now }},
	})
	reg := func(user string) response {
		return ts.do("POST", v3+"/register", "", map[string]any{"username": user, "password": "pw", "auth": map[string]any{"type": "m.login.dummy"}})
	}
	ts.expect(reg("u1"), 200, "")
	ts.expect(reg("u2"), 200, "")
	over := reg("u3")
	ts.expect(over, 429, "M_LIMIT_EXCEEDED")
	if ms, _ := over.body["retry_after_ms"].(float64); ms <= 0 || ms > 60_000 {
		t.Fatalf("retry_after_ms: %s", over.raw)
	}
	if over.header.Get("Retry-After") == "" {
		t.Fatalf("no Retry-After header: %v", over.header)
	}
	// The first step (asking for the flows) is not counted.
	ts.expect(ts.do("POST", v3+"/register", "", map[string]any{"username": "u3", "password": "pw"}), 401, "")
	now = now.Add(time.Minute)
	ts.expect(reg("u3"), 200, "")
}

// Issue 11, defect 10: device_id had no length limit (500 KB stored).
func TestDeviceFieldsBounded(t *testing.T) {
	ts := newServer(t)
	long := strings.Repeat("D", 256)
	ts.expect(ts.do("POST", v3+"/register", "", map[string]any{"username": "alice", "password": "pw", "device_id": long,
		"auth": map[string]any{"type": "m.login.dummy"}}), 400, "M_INVALID_PARAM")
	token := ts.register("alice", "pw")
	login := func(deviceID, name string) response {
		return ts.do("POST", v3+"/login", "", map[string]any{"type": "m.login.password", "user": "alice", "password": "pw",
			"device_id": deviceID, "initial_device_display_name": name})
	}
	ts.expect(login(long, ""), 400, "M_INVALID_PARAM")
	ts.expect(login("", strings.Repeat("n", 101)), 400, "M_INVALID_PARAM")
	ts.expect(login(strings.Repeat("D", 255), strings.Repeat("n", 100)), 200, "")
	ts.expect(ts.do("PUT", v3+"/devices/"+ts.whoamiDevice(token), token, map[string]any{"display_name": strings.Repeat("n", 101)}), 400, "M_INVALID_PARAM")
	ts.expect(ts.do("PUT", v3+"/profile/@alice:"+ts.name+"/displayname", token, map[string]any{"displayname": strings.Repeat("n", 2000)}), 400, "M_INVALID_PARAM")
}

func (ts *testServer) whoamiDevice(token string) string {
	ts.t.Helper()
	r := ts.do("GET", v3+"/account/whoami", token, nil)
	ts.expect(r, 200, "")
	return fmt.Sprint(r.body["device_id"])
}
