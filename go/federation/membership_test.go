//go:build !js

package federation_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"testing"
)

// syncRooms returns the rooms of an initial /sync under one membership.
func (u *user) syncRooms(membership string) map[string]json.RawMessage {
	u.node.t.Helper()
	var body struct {
		Rooms map[string]map[string]json.RawMessage `json:"rooms"`
	}
	r := u.must("GET", "/_matrix/client/v3/sync", nil)
	if err := json.Unmarshal(r.raw, &body); err != nil {
		u.node.t.Fatal(err)
	}
	return body.Rooms[membership]
}

// An invite to a user of another server shows in their /sync with the room's
// stripped state; they can accept it (joining through the inviter's server)
// or reject it (make_leave / send_leave). Kicks and bans cross servers too.
func TestInvitesAcrossServers(t *testing.T) {
	for _, version := range []string{"11", "12"} {
		t.Run("v"+version, func(t *testing.T) { testInvitesAcrossServers(t, version) })
	}
}

func testInvitesAcrossServers(t *testing.T, version string) {
	n := newNetwork(t)
	nodes := n.nodes(3)
	a, b, c := nodes[0], nodes[1], nodes[2]
	alice, bob, carol := a.register("alice"), b.register("bob"), c.register("carol")
	roomID := alice.createRoom(map[string]any{"preset": "private_chat", "name": "Secret", "room_version": version})
	base := "/_matrix/client/v3/rooms/" + url.PathEscape(roomID)

	// Without an invite, the private room refuses bob.
	if r := bob.do("POST", "/_matrix/client/v3/join/"+url.PathEscape(roomID)+"?server_name="+string(a.name), map[string]any{}); r.status != http.StatusForbidden {
		t.Fatalf("uninvited join: %d %s", r.status, r.raw)
	}

	alice.must("POST", base+"/invite", map[string]any{"user_id": bob.id})
	invited := bob.syncRooms("invite")
	raw, ok := invited[roomID]
	if !ok {
		t.Fatalf("bob's sync shows no invite: %v", invited)
	}
	var invite struct {
		InviteState struct {
			Events []struct {
				Type     string         `json:"type"`
				StateKey string         `json:"state_key"`
				Content  map[string]any `json:"content"`
			} `json:"events"`
		} `json:"invite_state"`
	}
	if err := json.Unmarshal(raw, &invite); err != nil {
		t.Fatal(err)
	}
	var sawName, sawInvite bool
	for _, ev := range invite.InviteState.Events {
		sawName = sawName || ev.Type == "m.room.name" && ev.Content["name"] == "Secret"
		sawInvite = sawInvite || ev.Type == "m.room.member" && ev.StateKey == bob.id && ev.Content["membership"] == "invite"
	}
	if !sawName || !sawInvite {
		t.Fatalf("invite state lacks the name or the invite: %s", raw)
	}
	if m := alice.state(roomID, "m.room.member", bob.id).str("membership"); m != "invite" {
		t.Fatalf("alice sees bob as %q", m)
	}

	// Bob accepts: no server named, the invite says where to go.
	bob.must("POST", "/_matrix/client/v3/join/"+url.PathEscape(roomID), map[string]any{})
	bob.say(roomID, "thanks for the invite")
	eventually(t, "alice to see bob's message", func() bool { return slices.Contains(alice.texts(roomID), "thanks for the invite") })
	if _, ok := bob.syncRooms("join")[roomID]; !ok {
		t.Fatal("bob's sync does not show the room as joined")
	}

	// Carol rejects.
	alice.must("POST", base+"/invite", map[string]any{"user_id": carol.id})
	if _, ok := carol.syncRooms("invite")[roomID]; !ok {
		t.Fatal("carol's sync shows no invite")
	}
	carol.must("POST", base+"/leave", map[string]any{})
	for _, u := range []*user{alice, bob} {
		eventually(t, u.id+" to see carol's rejection", func() bool {
			return u.state(roomID, "m.room.member", carol.id).str("membership") == "leave"
		})
	}
	if _, ok := carol.syncRooms("invite")[roomID]; ok {
		t.Fatal("carol still sees the invite after rejecting it")
	}

	// Alice kicks bob; bob's server learns it and refuses his messages.
	alice.must("POST", base+"/kick", map[string]any{"user_id": bob.id, "reason": "bye"})
	// A kicked user still reads the room up to the kick (client-server API,
	// "History visibility"), his own leave included.
	eventually(t, "bob's server to see the kick", func() bool {
		return bob.state(roomID, "m.room.member", bob.id).str("membership") == "leave"
	})
	if r := bob.do("PUT", base+"/send/m.room.message/after-kick", map[string]any{"body": "x"}); r.status != http.StatusForbidden {
		t.Fatalf("bob sends after the kick: %d %s", r.status, r.raw)
	}
	// A ban keeps him out.
	alice.must("POST", base+"/ban", map[string]any{"user_id": bob.id})
	if m := alice.state(roomID, "m.room.member", bob.id).str("membership"); m != "ban" {
		t.Fatalf("alice sees bob as %q", m)
	}
	if r := bob.do("POST", "/_matrix/client/v3/join/"+url.PathEscape(roomID)+"?server_name="+string(a.name), map[string]any{}); r.status != http.StatusForbidden {
		t.Fatalf("banned join: %d %s", r.status, r.raw)
	}
}

// The public room directory of another server, through the client API.
func TestPublicRoomsAcrossServers(t *testing.T) {
	n := newNetwork(t)
	nodes := n.nodes(2)
	a, b := nodes[0], nodes[1]
	alice, bob := a.register("alice"), b.register("bob")
	public := alice.createRoom(map[string]any{"preset": "public_chat", "visibility": "public", "name": "Lobby", "topic": "all welcome"})
	alice.createRoom(map[string]any{"preset": "private_chat", "name": "Hidden"})

	for _, tc := range []struct {
		name string
		u    *user
		path string
	}{
		{"local", alice, "/_matrix/client/v3/publicRooms"},
		{"remote", bob, "/_matrix/client/v3/publicRooms?server=" + string(a.name)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.u.must("GET", tc.path, nil)
			var dir struct {
				Chunk []struct {
					RoomID  string `json:"room_id"`
					Name    string `json:"name"`
					Topic   string `json:"topic"`
					Members int    `json:"num_joined_members"`
				} `json:"chunk"`
			}
			if err := json.Unmarshal(r.raw, &dir); err != nil {
				t.Fatal(err)
			}
			if len(dir.Chunk) != 1 || dir.Chunk[0].RoomID != public || dir.Chunk[0].Name != "Lobby" ||
				dir.Chunk[0].Topic != "all welcome" || dir.Chunk[0].Members != 1 {
				t.Fatalf("directory: %s", r.raw)
			}
		})
	}
	// And bob can join what he found.
	bob.join(public, a)
	eventually(t, "alice to see bob join", func() bool { return alice.state(public, "m.room.member", bob.id).str("membership") == "join" })
}

// createRoom's invite list may name users of other servers: their invites go
// over federation once the room exists, and they can join.
func TestCreateRoomInvitesRemoteUser(t *testing.T) {
	nodes := newNetwork(t).nodes(2)
	alice, bob := nodes[0].register("alice"), nodes[1].register("bob")
	roomID := alice.createRoom(map[string]any{"preset": "private_chat", "invite": []string{bob.id}})
	if _, ok := bob.syncRooms("invite")[roomID]; !ok {
		t.Fatal("bob's sync shows no invite to the new room")
	}
	bob.join(roomID, nodes[0])
	if m := alice.state(roomID, "m.room.member", bob.id).str("membership"); m != "join" {
		t.Fatalf("bob's membership on A = %q", m)
	}
}

// A user who joins a room of another server keeps their display name and
// avatar in it: the resident server's template knows neither, so the joining
// server adds them before signing.
func TestRemoteJoinCarriesProfile(t *testing.T) {
	n := newNetwork(t)
	nodes := n.nodes(2)
	a, b := nodes[0], nodes[1]
	alice, bob := a.register("alice"), b.register("bob")
	bob.must("PUT", "/_matrix/client/v3/profile/"+url.PathEscape(bob.id)+"/displayname", map[string]any{"displayname": "Bob Builder"})
	bob.must("PUT", "/_matrix/client/v3/profile/"+url.PathEscape(bob.id)+"/avatar_url", map[string]any{"avatar_url": "mxc://" + string(b.name) + "/face"})
	roomID := alice.createRoom(map[string]any{"preset": "public_chat"})
	bob.join(roomID, a)
	var got map[string]any
	eventually(t, "bob's member event on alice's server", func() bool {
		got = alice.state(roomID, "m.room.member", bob.id).body
		return got["membership"] == "join"
	})
	if got["displayname"] != "Bob Builder" || got["avatar_url"] != "mxc://"+string(b.name)+"/face" {
		t.Fatalf("bob's member event on the resident server = %v, want his display name and avatar", got)
	}
}
