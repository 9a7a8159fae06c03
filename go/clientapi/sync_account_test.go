//go:build !js

package clientapi_test

import (
	"testing"
)

// Spec 1.11 §"Push Rules": the initial sync carries the user's m.push_rules
// in account data, the defaults for a user who never edited them.
func TestInitialSyncCarriesPushRules(t *testing.T) {
	ts := newServer(t)
	alice := ts.register("alice", "pw")
	sync := ts.do("GET", v3+"/sync", alice, nil)
	ts.expect(sync, 200, "")
	var found bool
	for _, ev := range get(sync.body, "account_data", "events").([]any) {
		if get(ev, "type") == "m.push_rules" {
			found = get(ev, "content", "global", "override") != nil
		}
	}
	if !found {
		t.Fatalf("initial sync without push rules: %s", sync.raw)
	}
}

// Spec 1.11 §"Ignoring Users": invites from ignored users are not shown.
func TestInvitesFromIgnoredUsersHidden(t *testing.T) {
	ts := newServer(t)
	alice := ts.register("alice", "pw")
	bob := ts.register("bob", "pw")
	carol := ts.register("carol", "pw")
	aliceID := "@alice:" + ts.name
	ts.expect(ts.do("PUT", v3+"/user/"+aliceID+"/account_data/m.ignored_user_list", alice,
		map[string]any{"ignored_users": map[string]any{"@bob:" + ts.name: map[string]any{}}}), 200, "")
	fromBob := ts.createRoom(bob, map[string]any{"invite": []string{aliceID}})
	fromCarol := ts.createRoom(carol, map[string]any{"invite": []string{aliceID}})
	sync := ts.do("GET", v3+"/sync", alice, nil)
	ts.expect(sync, 200, "")
	if get(sync.body, "rooms", "invite", fromBob) != nil || get(sync.body, "rooms", "invite", fromCarol) == nil {
		t.Fatalf("invites: %s", sync.raw)
	}
}
