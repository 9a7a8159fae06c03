//go:build !js

package federation_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

// presenceSenders lists the senders of m.presence events in a user's full sync.
func presenceSenders(t *testing.T, u *user) map[string]bool {
	t.Helper()
	var body struct {
		Presence struct {
			Events []struct {
				Sender string `json:"sender"`
			} `json:"events"`
		} `json:"presence"`
	}
	if err := json.Unmarshal(u.must("GET", "/_matrix/client/v3/sync", nil).raw, &body); err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, ev := range body.Presence.Events {
		out[ev.Sender] = true
	}
	return out
}

// Issue 11, defect 5: presence EDUs were accepted for any user of the
// sending server and shown in every local user's /sync.
func TestPresenceOnlyFromAndForRoomMates(t *testing.T) {
	n := newNetwork(t)
	nodes := n.nodes(3)
	a, b, c := nodes[0], nodes[1], nodes[2]
	alice, dave, bob := a.register("alice"), a.register("dave"), b.register("bob")
	roomID := alice.createRoom(map[string]any{"preset": "public_chat"})
	bob.join(roomID, a)

	presence := func(from *node, users ...string) {
		t.Helper()
		var push []any
		for _, u := range users {
			push = append(push, map[string]any{"user_id": u, "presence": "online", "status_msg": "hello", "last_active_ago": 1})
		}
		txn := map[string]any{"origin": string(from.name), "origin_server_ts": 1, "pdus": []any{}, "edus": []any{
			map[string]any{"edu_type": "m.presence", "content": map[string]any{"push": push}},
		}}
		r := n.signedRequest(from.srv.Identity, a.name, "PUT", fmt.Sprintf("/_matrix/federation/v1/send/p%d", time.Now().UnixNano()), txn)
		if r.status != 200 {
			t.Fatalf("send: %d %s", r.status, r.raw)
		}
	}
	// C shares no room with A: none of its 2,000 users' presence is kept.
	var flood []string
	for i := range 2000 {
		flood = append(flood, fmt.Sprintf("@u%d:%s", i, c.name))
	}
	presence(c, flood...)
	presence(b, bob.id)

	eventually(t, "alice to see bob online", func() bool { return presenceSenders(t, alice)[bob.id] })
	for sender := range presenceSenders(t, alice) {
		if sender != bob.id && sender != alice.id {
			t.Fatalf("alice sees the presence of %s, who shares no room with her", sender)
		}
	}
	// dave is in no room with bob: he does not see him.
	if presenceSenders(t, dave)[bob.id] {
		t.Fatal("dave sees bob's presence without sharing a room")
	}
}
