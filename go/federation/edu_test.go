//go:build !js

package federation_test

import (
	"net/url"
	"strings"
	"testing"
)

// Typing notices and read receipts cross servers as EDUs, into the other
// server's /sync.
func TestTypingAndReceiptsAcrossServers(t *testing.T) {
	n := newNetwork(t)
	nodes := n.nodes(2)
	a, b := nodes[0], nodes[1]
	alice, bob := a.register("alice"), b.register("bob")
	roomID := alice.createRoom(map[string]any{"preset": "public_chat"})
	bob.join(roomID, a)
	eventID := alice.say(roomID, "hello")
	eventually(t, "bob has alice's message", func() bool { return hasAll(bob.texts(roomID), "hello") })

	base := "/_matrix/client/v3/rooms/" + url.PathEscape(roomID)
	alice.must("PUT", base+"/typing/"+url.PathEscape(alice.id), map[string]any{"typing": true, "timeout": 20000})
	eventually(t, "bob sees alice typing", func() bool {
		r := bob.do("GET", "/_matrix/client/v3/sync", nil)
		return strings.Contains(string(r.raw), `"user_ids":["`+alice.id+`"]`)
	})
	bob.must("POST", base+"/receipt/m.read/"+url.PathEscape(eventID), map[string]any{})
	eventually(t, "alice sees bob's receipt", func() bool {
		r := alice.do("GET", "/_matrix/client/v3/sync", nil)
		return strings.Contains(string(r.raw), `"`+eventID+`":{"m.read":{"`+bob.id+`":{"ts":`)
	})
}
