//go:build !js

package clientapi_test

import (
	"strings"
	"testing"
)

func passwordAuth(user, password string) map[string]any {
	return map[string]any{"type": "m.login.password", "identifier": map[string]any{"type": "m.id.user", "user": user}, "password": password}
}

// Issue 11, defect 11: deleting a device took only the dummy stage, so a
// stolen access token could log the owner's other devices out.
func TestDeleteDeviceNeedsPassword(t *testing.T) {
	ts := newServer(t)
	alice := ts.register("alice", "pw")
	ts.register("bob", "bobpw")
	phone := ts.do("POST", v3+"/login", "", map[string]any{"type": "m.login.password", "user": "alice", "password": "pw", "device_id": "PHONE"})
	ts.expect(phone, 200, "")

	for _, tc := range []struct {
		name string
		auth map[string]any
		want string
	}{
		{"no auth", nil, ""},
		{"dummy stage", map[string]any{"type": "m.login.dummy"}, ""},
		{"wrong password", passwordAuth("alice", "nope"), "M_FORBIDDEN"},
		{"someone else's password", passwordAuth("bob", "bobpw"), "M_FORBIDDEN"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := ts.do("DELETE", v3+"/devices/PHONE", alice, map[string]any{"auth": tc.auth})
			ts.expect(r, 401, tc.want)
			if !strings.Contains(string(r.raw), "m.login.password") {
				t.Fatalf("challenge does not ask for the password: %s", r.raw)
			}
			r = ts.do("POST", v3+"/delete_devices", alice, map[string]any{"devices": []string{"PHONE"}, "auth": tc.auth})
			ts.expect(r, 401, tc.want)
		})
	}
	ts.expect(ts.do("GET", v3+"/account/whoami", phone.str("access_token"), nil), 200, "")
	ts.expect(ts.do("POST", v3+"/delete_devices", alice, map[string]any{"devices": []string{"PHONE"}, "auth": passwordAuth("@alice:"+ts.name, "pw")}), 200, "")
	ts.expect(ts.do("GET", v3+"/account/whoami", phone.str("access_token"), nil), 401, "M_UNKNOWN_TOKEN")
}

func TestChangePassword(t *testing.T) {
	ts := newServer(t)
	alice := ts.register("alice", "old")
	phone := ts.do("POST", v3+"/login", "", map[string]any{"type": "m.login.password", "user": "alice", "password": "old"})
	ts.expect(phone, 200, "")
	caps := ts.do("GET", v3+"/capabilities", alice, nil)
	if get(caps.body, "capabilities", "m.change_password", "enabled") != true {
		t.Fatalf("capabilities: %s", caps.raw)
	}

	ts.expect(ts.do("POST", v3+"/account/password", alice, map[string]any{"new_password": "new"}), 401, "")
	ts.expect(ts.do("POST", v3+"/account/password", alice, map[string]any{"new_password": "new", "auth": passwordAuth("alice", "wrong")}), 401, "M_FORBIDDEN")
	ts.expect(ts.do("POST", v3+"/account/password", alice, map[string]any{"new_password": "", "auth": passwordAuth("alice", "old")}), 400, "M_WEAK_PASSWORD")
	ts.expect(ts.do("POST", v3+"/account/password", alice, map[string]any{"new_password": "new", "auth": passwordAuth("alice", "old")}), 200, "")

	// The other device is logged out (the default), this one is not.
	ts.expect(ts.do("GET", v3+"/account/whoami", phone.str("access_token"), nil), 401, "M_UNKNOWN_TOKEN")
	ts.expect(ts.do("GET", v3+"/account/whoami", alice, nil), 200, "")
	login := func(pw string) response {
		return ts.do("POST", v3+"/login", "", map[string]any{"type": "m.login.password", "user": "alice", "password": pw})
	}
	ts.expect(login("old"), 403, "M_FORBIDDEN")
	laptop := login("new")
	ts.expect(laptop, 200, "")

	// logout_devices: false keeps them.
	ts.expect(ts.do("POST", v3+"/account/password", alice, map[string]any{"new_password": "newer", "logout_devices": false, "auth": passwordAuth("alice", "new")}), 200, "")
	ts.expect(ts.do("GET", v3+"/account/whoami", laptop.str("access_token"), nil), 200, "")
}

func TestDeactivate(t *testing.T) {
	ts := newServer(t)
	alice := ts.register("alice", "pw")
	bob := ts.register("bob", "pw")
	roomID := ts.createRoom(bob, map[string]any{"preset": "public_chat"})
	ts.expect(ts.do("POST", roomPath(roomID)+"/join", alice, nil), 200, "")

	ts.expect(ts.do("POST", v3+"/account/deactivate", alice, map[string]any{}), 401, "")
	ts.expect(ts.do("POST", v3+"/account/deactivate", alice, map[string]any{"auth": passwordAuth("alice", "wrong")}), 401, "M_FORBIDDEN")
	ts.expect(ts.do("POST", v3+"/account/deactivate", alice, map[string]any{"auth": passwordAuth("alice", "pw")}), 200, "")

	ts.expect(ts.do("GET", v3+"/account/whoami", alice, nil), 401, "M_UNKNOWN_TOKEN")
	ts.expect(ts.do("POST", v3+"/login", "", map[string]any{"type": "m.login.password", "user": "alice", "password": "pw"}), 403, "M_FORBIDDEN")
	// The name is never handed out again.
	ts.expect(ts.do("GET", v3+"/register/available?username=alice", "", nil), 400, "M_USER_IN_USE")
	members := ts.do("GET", roomPath(roomID)+"/joined_members", bob, nil)
	ts.expect(members, 200, "")
	if _, joined := members.body["joined"].(map[string]any)["@alice:"+ts.name]; joined {
		t.Fatalf("deactivated user still joined: %s", members.raw)
	}
}
