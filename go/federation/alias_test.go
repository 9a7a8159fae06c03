//go:build !js

package federation_test

import (
	"net/http"
	"net/url"
	"testing"
)

// A user of B joins a room of A by an alias of A: B asks A
// (query/directory), then joins through the servers A names.
func TestJoinByRemoteAlias(t *testing.T) {
	n := newNetwork(t)
	nodes := n.nodes(3)
	a, b, c := nodes[0], nodes[1], nodes[2]
	alice, bob, carol := a.register("alice"), b.register("bob"), c.register("carol")
	roomID := alice.createRoom(map[string]any{"preset": "public_chat", "name": "Lobby"})
	alias := "#lobby:" + string(a.name)
	r := alice.do("PUT", "/_matrix/client/v3/directory/room/"+url.PathEscape(alias), map[string]any{"room_id": roomID})
	if r.status == http.StatusNotFound && r.str("errcode") == "M_UNRECOGNIZED" {
		t.Skip("no local alias table on this branch yet (PUT /directory/room)")
	}
	if r.status != http.StatusOK {
		t.Fatalf("PUT alias: %d %s", r.status, r.raw)
	}

	// The federation query, as B's server would send it.
	q := n.signedRequest(b.srv.Identity, a.name, "GET", "/_matrix/federation/v1/query/directory?room_alias="+url.QueryEscape(alias), nil)
	if q.status != http.StatusOK || q.str("room_id") != roomID {
		t.Fatalf("query/directory: %d %s", q.status, q.raw)
	}
	if servers, _ := q.body["servers"].([]any); len(servers) == 0 || servers[0] != string(a.name) {
		t.Fatalf("query/directory servers: %s", q.raw)
	}
	unknown := n.signedRequest(b.srv.Identity, a.name, "GET", "/_matrix/federation/v1/query/directory?room_alias="+url.QueryEscape("#nope:"+string(a.name)), nil)
	if unknown.status != http.StatusNotFound || unknown.str("errcode") != "M_NOT_FOUND" {
		t.Fatalf("unknown alias: %d %s", unknown.status, unknown.raw)
	}

	// Client joins by alias, no server_name needed: the alias names A.
	if got := bob.must("POST", "/_matrix/client/v3/join/"+url.PathEscape(alias), map[string]any{}).str("room_id"); got != roomID {
		t.Fatalf("join by alias gave room %q, want %s", got, roomID)
	}
	eventually(t, "alice to see bob join", func() bool { return alice.state(roomID, "m.room.member", bob.id).str("membership") == "join" })
	// Carol's join may go through any server A names (A, then B).
	carol.must("POST", "/_matrix/client/v3/join/"+url.PathEscape(alias), map[string]any{})
	alice.say(roomID, "welcome")
	for _, u := range []*user{bob, carol} {
		eventually(t, u.id+" to get the welcome", func() bool { return hasAll(u.texts(roomID), "welcome") })
	}
	if r := bob.do("POST", "/_matrix/client/v3/join/"+url.PathEscape("#nope:"+string(a.name)), map[string]any{}); r.status != http.StatusNotFound {
		t.Fatalf("join by unknown alias: %d %s", r.status, r.raw)
	}
}
