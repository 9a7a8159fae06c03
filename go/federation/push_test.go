//go:build !js

package federation_test

import (
	"fmt"
	"net/url"
	"testing"
	"time"
)

// Events from other servers are evaluated against the push rules of the
// local members as local ones are (client-server API v1.11, "Push
// Notifications"): bob on B is notified, and highlighted when mentioned, of
// alice's messages sent on A.
func TestPushRulesApplyToEventsFromOtherServers(t *testing.T) {
	n := newNetwork(t)
	nodes := n.nodes(2)
	a, b := nodes[0], nodes[1]
	alice, bob := a.register("alice"), b.register("bob")
	roomID := alice.createRoom(map[string]any{"preset": "public_chat"})
	bob.join(roomID, a)

	alice.say(roomID, "plain news")
	alice.must("PUT", "/_matrix/client/v3/rooms/"+url.PathEscape(roomID)+"/send/m.room.message/"+fmt.Sprint(time.Now().UnixNano()),
		map[string]any{"msgtype": "m.text", "body": "over to you", "m.mentions": map[string]any{"user_ids": []string{bob.id}}})
	var counts string
	eventually(t, "bob's counts", func() bool {
		r := bob.must("GET", "/_matrix/client/v3/sync", nil)
		rooms, _ := r.body["rooms"].(map[string]any)
		join, _ := rooms["join"].(map[string]any)
		room, _ := join[roomID].(map[string]any)
		unread, _ := room["unread_notifications"].(map[string]any)
		counts = fmt.Sprint(unread["notification_count"], " ", unread["highlight_count"])
		return counts == "2 1"
	})
	r := bob.must("GET", "/_matrix/client/v3/notifications?only=highlight", nil)
	if list, _ := r.body["notifications"].([]any); len(list) != 1 {
		t.Fatalf("bob's highlights: %s", r.raw)
	}
	if r := alice.must("GET", "/_matrix/client/v3/notifications", nil); len(r.body["notifications"].([]any)) != 0 {
		t.Fatalf("alice is notified of her own: %s", r.raw)
	}
}
