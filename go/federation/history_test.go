//go:build !js

package federation_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// A server that joins late pages back through /messages into history it
// never had: each page it lacks is backfilled from a server in the room.
// Its first /sync shows the room's state from the join.
func TestMessagesBackfillOnDemand(t *testing.T) {
	n := newNetwork(t)
	nodes := n.nodes(2)
	a, b := nodes[0], nodes[1]
	alice, bob := a.register("alice"), b.register("bob")
	roomID := alice.createRoom(map[string]any{"preset": "public_chat", "name": "Archive"})
	var history []string
	for i := range 45 {
		text := fmt.Sprintf("old %02d", i)
		alice.say(roomID, text)
		history = append(history, text)
	}
	bob.join(roomID, a)

	var sync struct {
		Rooms struct {
			Join map[string]struct {
				State    struct{ Events []struct{ Type string } }
				Timeline struct{ Events []struct{ Type string } }
			}
		}
	}
	if err := json.Unmarshal(bob.must("GET", "/_matrix/client/v3/sync", nil).raw, &sync); err != nil {
		t.Fatal(err)
	}
	var stateTypes []string
	for _, ev := range sync.Rooms.Join[roomID].State.Events {
		stateTypes = append(stateTypes, ev.Type)
	}
	for _, want := range []string{"m.room.create", "m.room.power_levels", "m.room.join_rules", "m.room.name"} {
		if !slices.Contains(stateTypes, want) {
			t.Fatalf("bob's first sync lacks %s in state: %v", want, stateTypes)
		}
	}

	// Page back ten at a time, as a client scrolling up would.
	var seen []string
	from := ""
	for page := 0; page < 20; page++ {
		path := "/_matrix/client/v3/rooms/" + url.PathEscape(roomID) + "/messages?dir=b&limit=10"
		if from != "" {
			path += "&from=" + from
		}
		r := bob.must("GET", path, nil)
		chunk, _ := r.body["chunk"].([]any)
		for _, raw := range chunk {
			ev := raw.(map[string]any)
			if c, _ := ev["content"].(map[string]any); ev["type"] == "m.room.message" {
				seen = append(seen, c["body"].(string))
			}
		}
		from = r.str("end")
		if from == "" {
			break
		}
	}
	slices.Reverse(seen)
	if !slices.Equal(seen, history) {
		t.Fatalf("bob paged through %d messages:\n%v\nwant %d:\n%v", len(seen), seen, len(history), history)
	}
}

// In a room whose history is visible to joined members only, a server whose
// users join late cannot read what was said before: backfill and event give
// it those events redacted, and state at them is refused. What follows the
// join reaches it whole.
func TestJoinedVisibilityHidesHistoryFromLateServers(t *testing.T) {
	n := newNetwork(t)
	nodes := n.nodes(2)
	a, b := nodes[0], nodes[1]
	alice, bob := a.register("alice"), b.register("bob")
	roomID := alice.createRoom(map[string]any{"preset": "public_chat", "initial_state": []map[string]any{
		{"type": "m.room.history_visibility", "state_key": "", "content": map[string]any{"history_visibility": "joined"}},
	}})
	var secrets []string
	for i := range 3 {
		secrets = append(secrets, alice.say(roomID, fmt.Sprintf("secret %d", i)))
	}
	bob.join(roomID, a)
	after := alice.say(roomID, "hello bob")
	eventually(t, "bob to see the message after his join", func() bool {
		return slices.Contains(bob.texts(roomID), "hello bob")
	})
	// Page back as far as there is history: nothing before the join shows.
	for _, text := range bob.texts(roomID) {
		if strings.HasPrefix(text, "secret") {
			t.Fatalf("bob reads history from before his join: %v", bob.texts(roomID))
		}
	}

	// And asked directly, as B's server.
	bID := b.srv.Identity
	body := func(r response) string {
		pdus, _ := r.body["pdus"].([]any)
		if len(pdus) != 1 {
			t.Fatalf("%d %s", r.status, r.raw)
		}
		c, _ := pdus[0].(map[string]any)["content"].(map[string]any)
		s, _ := c["body"].(string)
		return s
	}
	if got := body(n.signedRequest(bID, a.name, "GET", "/_matrix/federation/v1/event/"+url.PathEscape(secrets[0]), nil)); got != "" {
		t.Fatalf("event before the join came whole: %q", got)
	}
	if got := body(n.signedRequest(bID, a.name, "GET", "/_matrix/federation/v1/event/"+url.PathEscape(after), nil)); got != "hello bob" {
		t.Fatalf("event after the join came as %q", got)
	}
	r := n.signedRequest(bID, a.name, "GET", "/_matrix/federation/v1/state_ids/"+url.PathEscape(roomID)+"?event_id="+url.QueryEscape(secrets[1]), nil)
	if r.status != 403 {
		t.Fatalf("state at an event before the join: %d %s", r.status, r.raw)
	}
	r = n.signedRequest(bID, a.name, "GET", "/_matrix/federation/v1/backfill/"+url.PathEscape(roomID)+"?limit=50&v="+url.QueryEscape(after), nil)
	pdus, _ := r.body["pdus"].([]any)
	var bodies []string
	for _, p := range pdus {
		ev := p.(map[string]any)
		if ev["type"] == "m.room.message" {
			c, _ := ev["content"].(map[string]any)
			s, _ := c["body"].(string)
			bodies = append(bodies, s)
		}
	}
	slices.Sort(bodies)
	if want := []string{"", "", "", "hello bob"}; !slices.Equal(bodies, want) {
		t.Fatalf("backfill gave message bodies %q, want %q", bodies, want)
	}
	// A server with no user in the room gets nothing at all.
	c := n.node(fastQueue)
	r = n.signedRequest(c.srv.Identity, a.name, "GET", "/_matrix/federation/v1/event/"+url.PathEscape(after), nil)
	if r.status != 403 {
		t.Fatalf("a server outside the room read an event: %d %s", r.status, r.raw)
	}
}

// What a late server's user reads of the history before joining, by the
// room's history_visibility: everything when shared, from the invite on when
// invited, nothing when joined.
func TestHistoryVisibilityForLateServers(t *testing.T) {
	for _, tc := range []struct {
		visibility string
		want       []string
	}{
		{"shared", []string{"before the invite", "after the invite", "after the join"}},
		{"invited", []string{"after the invite", "after the join"}},
		{"joined", []string{"after the join"}},
	} {
		t.Run(tc.visibility, func(t *testing.T) {
			n := newNetwork(t)
			nodes := n.nodes(2)
			a, b := nodes[0], nodes[1]
			alice, bob := a.register("alice"), b.register("bob")
			roomID := alice.createRoom(map[string]any{"preset": "private_chat", "initial_state": []map[string]any{
				{"type": "m.room.history_visibility", "state_key": "", "content": map[string]any{"history_visibility": tc.visibility}},
			}})
			alice.say(roomID, "before the invite")
			alice.must("POST", "/_matrix/client/v3/rooms/"+url.PathEscape(roomID)+"/invite", map[string]any{"user_id": bob.id})
			alice.say(roomID, "after the invite")
			bob.join(roomID)
			alice.say(roomID, "after the join")
			eventually(t, "bob to get the message after his join", func() bool { return hasAll(bob.texts(roomID), "after the join") })
			var readable []string
			for _, text := range bob.texts(roomID) {
				if text != "" { // events bob's server got redacted
					readable = append(readable, text)
				}
			}
			if !slices.Equal(readable, tc.want) {
				t.Fatalf("bob reads %q, want %q", readable, tc.want)
			}
		})
	}
}
