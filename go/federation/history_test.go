//go:build !js

package federation_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
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
