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

// Rooms of every supported version (1 to 12), created on A, are joined
// from B and C by room ID; messages from all three arrive everywhere in the
// same order. Versions 1 and 2 name events "$random:origin", 1 resolves
// state with the first algorithm.
// Version 12 has a domainless room ID (the create event's hash, so joiners
// must name a server), a create event without room_id that no event lists
// in auth_events, and a privileged creator absent from power levels' users.
func TestRoomVersionsAcrossServers(t *testing.T) {
	for _, version := range []string{"1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12"} {
		t.Run("v"+version, func(t *testing.T) {
			n := newNetwork(t)
			nodes := n.nodes(3)
			a, b, c := nodes[0], nodes[1], nodes[2]
			alice, bob, carol := a.register("alice"), b.register("bob"), c.register("carol")
			roomID := alice.createRoom(map[string]any{"preset": "public_chat", "room_version": version, "name": "v" + version})
			if domainless := !strings.Contains(roomID, ":"); domainless != (version == "12") {
				t.Fatalf("room ID %s for version %s", roomID, version)
			}
			firstID := alice.say(roomID, "first")
			bob.join(roomID, a)
			carol.join(roomID, b)

			create := map[string]any{}
			for _, ev := range carol.timeline(roomID) {
				if ev["type"] == "m.room.create" {
					create = ev
				}
			}
			if version == "12" {
				if got := "!" + strings.TrimPrefix(fmt.Sprint(create["event_id"]), "$"); got != roomID {
					t.Fatalf("create event %v does not name room %s", create["event_id"], roomID)
				}
				var pl struct{ Users map[string]int }
				if err := json.Unmarshal(carol.state(roomID, "m.room.power_levels", "").raw, &pl); err != nil {
					t.Fatal(err)
				}
				if _, listed := pl.Users[alice.id]; listed {
					t.Fatalf("v12 creator listed in power levels: %v", pl.Users)
				}
				// As other servers get them: the create event has no room_id
				// and no event lists it in auth_events.
				pdu := func(eventID string) map[string]any {
					r := n.signedRequest(b.srv.Identity, a.name, "GET", "/_matrix/federation/v1/event/"+url.PathEscape(eventID), nil)
					pdus, _ := r.body["pdus"].([]any)
					if len(pdus) != 1 {
						t.Fatalf("event %s: %d %s", eventID, r.status, r.raw)
					}
					return pdus[0].(map[string]any)
				}
				if raw := pdu(fmt.Sprint(create["event_id"])); raw["room_id"] != nil {
					t.Fatalf("v12 create event carries room_id: %v", raw)
				}
				auth, _ := pdu(firstID)["auth_events"].([]any)
				if len(auth) == 0 || slices.Contains(auth, create["event_id"]) {
					t.Fatalf("v12 message's auth_events %v (create %v)", auth, create["event_id"])
				}
			}
			if r := carol.state(roomID, "m.room.create", ""); r.str("room_version") != version {
				t.Fatalf("carol sees create content %s", r.raw)
			}

			users := []*user{alice, bob, carol}
			sent := []string{"first"}
			for _, u := range users {
				text := u.id + " in v" + version
				u.say(roomID, text)
				sent = append(sent, text)
				for _, other := range users {
					eventually(t, other.id+" to see "+text, func() bool { return slices.Contains(other.texts(roomID), text) })
				}
			}
			for _, u := range users {
				if got := u.texts(roomID); !slices.Equal(got, sent) {
					t.Errorf("%s sees %v, want %v", u.id, got, sent)
				}
			}
			// The creator's power holds across servers: in v12 without any
			// power levels entry. Bob's server accepts the kick of carol.
			alice.must("POST", "/_matrix/client/v3/rooms/"+roomID+"/kick", map[string]any{"user_id": carol.id})
			eventually(t, "bob to see carol kicked", func() bool {
				return bob.state(roomID, "m.room.member", carol.id).str("membership") == "leave"
			})
		})
	}
}
