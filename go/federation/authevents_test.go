//go:build !js

package federation_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/matrix-org/gomatrixserverlib"

	"hearth/go/identity"
)

// Issue 11, defect 8: a PDU listing an auth event twice, two for one
// (type, state_key), or one the auth events selection would not pick was
// accepted; the auth rules reject all three.
func TestPDUsWithWrongAuthEventsAreRejected(t *testing.T) {
	n, nodes, alice, carol, roomID := aliceAndCarolInARoom(t)
	a, c := nodes[0], nodes[1]
	f := newForger(t, alice, roomID)
	create, power, joinRules := f.state["m.room.create|"], f.state["m.room.power_levels|"], f.state["m.room.join_rules|"]
	carolMember, aliceMember := f.state["m.room.member|"+carol.id], f.state["m.room.member|"+alice.id]

	v := gomatrixserverlib.MustGetRoomVersion(gomatrixserverlib.RoomVersionV11)
	message := func(body string, auth ...string) gomatrixserverlib.PDU {
		t.Helper()
		proto := gomatrixserverlib.ProtoEvent{SenderID: carol.id, RoomID: roomID, Type: "m.room.message",
			PrevEvents: []string{f.prev}, AuthEvents: auth, Depth: 100, Version: v}
		if err := proto.SetContent(map[string]any{"msgtype": "m.text", "body": body}); err != nil {
			t.Fatal(err)
		}
		ev, err := v.NewEventBuilderFromProtoEvent(&proto).Build(time.Now(), c.name, identity.KeyID, c.srv.Identity.Key)
		if err != nil {
			t.Fatal(err)
		}
		return ev
	}
	cases := map[string]gomatrixserverlib.PDU{
		"listed twice":                message("twice", create, power, carolMember, power),
		"superfluous join rules":      message("join rules", create, power, carolMember, joinRules),
		"someone else's membership":   message("alice's member", create, power, carolMember, aliceMember),
		"only the superfluous member": message("wrong member", create, power, aliceMember),
	}
	genuine := message("genuine", create, power, carolMember)
	var pdus []json.RawMessage
	for _, ev := range cases {
		pdus = append(pdus, ev.JSON())
	}
	pdus = append(pdus, genuine.JSON())
	r := n.signedRequest(c.srv.Identity, a.name, "PUT", "/_matrix/federation/v1/send/authsel", map[string]any{
		"origin": c.name, "origin_server_ts": time.Now().UnixMilli(), "pdus": pdus,
	})
	if r.status != http.StatusOK {
		t.Fatalf("send: %d %s", r.status, r.raw)
	}
	results, _ := r.body["pdus"].(map[string]any)
	if res, _ := results[genuine.EventID()].(map[string]any); res == nil || res["error"] != nil {
		t.Fatalf("genuine event: %v", results[genuine.EventID()])
	}
	shown := alice.eventIDs(roomID)
	for name, ev := range cases {
		t.Run(name, func(t *testing.T) {
			if res, _ := results[ev.EventID()].(map[string]any); res["error"] == nil {
				t.Errorf("accepted: %v", results[ev.EventID()])
			}
			if slices.Contains(shown, ev.EventID()) {
				t.Error("shown to alice")
			}
		})
	}
}
