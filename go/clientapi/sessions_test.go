//go:build !js

package clientapi_test

import (
	"testing"
)

// Spec 1.11 §"POST /logout/all": every access token of the user is
// invalidated, the caller's included.
func TestLogoutAll(t *testing.T) {
	ts := newServer(t)
	first := ts.register("alice", "secret")
	login := ts.do("POST", v3+"/login", "", map[string]any{
		"type": "m.login.password", "identifier": map[string]any{"type": "m.id.user", "user": "alice"}, "password": "secret",
	})
	ts.expect(login, 200, "")
	second := login.str("access_token")
	bob := ts.register("bob", "pw")
	ts.expect(ts.do("POST", v3+"/logout/all", second, nil), 200, "")
	ts.expect(ts.do("GET", v3+"/account/whoami", first, nil), 401, "M_UNKNOWN_TOKEN")
	ts.expect(ts.do("GET", v3+"/account/whoami", second, nil), 401, "M_UNKNOWN_TOKEN")
	ts.expect(ts.do("GET", v3+"/account/whoami", bob, nil), 200, "")
}
