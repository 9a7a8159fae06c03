//go:build !js

package clientapi_test

import (
	"testing"
)

// Spec 1.11 §"GET /pushers" and §"POST /pushers/set": pushers are stored,
// replaced by (app_id, pushkey), deleted with kind null, taken from other
// users unless append, and gone with the session that set them.
func TestPushers(t *testing.T) {
	ts := newServer(t)
	alice := ts.register("alice", "secret")
	bob := ts.register("bob", "pw")
	pusher := func(key, gateway string) map[string]any {
		return map[string]any{
			"pushkey": key, "kind": "http", "app_id": "org.example.app.android",
			"app_display_name": "Example", "device_display_name": "Phone", "lang": "en",
			"data": map[string]any{"url": gateway, "format": "event_id_only"},
		}
	}
	list := func(token string) []any {
		r := ts.do("GET", v3+"/pushers", token, nil)
		ts.expect(r, 200, "")
		ps, _ := r.body["pushers"].([]any)
		return ps
	}
	if len(list(alice)) != 0 {
		t.Fatal("a new user has pushers")
	}
	gateway := "https://push.example.org/_matrix/push/v1/notify"
	ts.expect(ts.do("POST", v3+"/pushers/set", alice, pusher("k1", gateway)), 200, "")
	ts.expect(ts.do("POST", v3+"/pushers/set", alice, pusher("k1", "https://other.example.org/_matrix/push/v1/notify")), 200, "")
	if ps := list(alice); len(ps) != 1 || get(ps[0], "data", "url") != "https://other.example.org/_matrix/push/v1/notify" ||
		get(ps[0], "pushkey") != "k1" || get(ps[0], "kind") != "http" || get(ps[0], "lang") != "en" {
		t.Fatalf("pushers: %v", ps)
	}

	ts.expect(ts.do("POST", v3+"/pushers/set", alice, pusher("k1", "https://push.example.org/wrong")), 400, "M_INVALID_PARAM")
	noKey := pusher("", gateway)
	delete(noKey, "pushkey")
	ts.expect(ts.do("POST", v3+"/pushers/set", alice, noKey), 400, "M_MISSING_PARAM")
	noLang := pusher("k2", gateway)
	delete(noLang, "lang")
	ts.expect(ts.do("POST", v3+"/pushers/set", alice, noLang), 400, "M_INVALID_PARAM")

	// The same pushkey set by bob takes it from alice, unless append.
	appended := pusher("k1", gateway)
	appended["append"] = true
	ts.expect(ts.do("POST", v3+"/pushers/set", bob, appended), 200, "")
	if len(list(alice)) != 1 || len(list(bob)) != 1 {
		t.Fatal("append removed the other user's pusher")
	}
	ts.expect(ts.do("POST", v3+"/pushers/set", bob, pusher("k1", gateway)), 200, "")
	if len(list(alice)) != 0 {
		t.Fatal("set without append kept the other user's pusher")
	}

	ts.expect(ts.do("POST", v3+"/pushers/set", bob, map[string]any{"pushkey": "k1", "app_id": "org.example.app.android", "kind": nil}), 200, "")
	if len(list(bob)) != 0 {
		t.Fatal("kind null did not delete the pusher")
	}

	// A password change logs out the other sessions, and their pushers go.
	ts.expect(ts.do("POST", v3+"/pushers/set", alice, pusher("k3", gateway)), 200, "")
	login := ts.do("POST", v3+"/login", "", map[string]any{
		"type": "m.login.password", "identifier": map[string]any{"type": "m.id.user", "user": "alice"}, "password": "secret",
	})
	ts.expect(login, 200, "")
	other := login.str("access_token")
	ts.expect(ts.do("POST", v3+"/account/password", other, map[string]any{
		"new_password": "secret2",
		"auth":         map[string]any{"type": "m.login.password", "identifier": map[string]any{"type": "m.id.user", "user": "alice"}, "password": "secret"},
	}), 200, "")
	if len(list(other)) != 0 {
		t.Fatal("the pusher of a logged-out session is still listed")
	}
}
