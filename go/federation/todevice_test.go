//go:build !js

package federation_test

import (
	"strings"
	"testing"
)

// To-device messages for another server's users travel as an
// m.direct_to_device EDU into that server's /sync.
func TestToDeviceAcrossServers(t *testing.T) {
	n := newNetwork(t)
	nodes := n.nodes(2)
	a, b := nodes[0], nodes[1]
	alice, bob := a.register("alice"), b.register("bob")
	alice.must("PUT", "/_matrix/client/v3/sendToDevice/org.example.ping/t1", map[string]any{
		"messages": map[string]any{bob.id: map[string]any{"*": map[string]any{"n": 1}}}})
	eventually(t, "bob's device gets alice's message", func() bool {
		r := bob.do("GET", "/_matrix/client/v3/sync", nil)
		return strings.Contains(string(r.raw), `"to_device":{"events":[{"sender":"`+alice.id+`","type":"org.example.ping","content":{"n":1}}]}`)
	})
}

// A new device's keys on one server show in the device lists of room mates
// on another (m.device_list_update).
func TestDeviceListUpdateAcrossServers(t *testing.T) {
	n := newNetwork(t)
	nodes := n.nodes(2)
	a, b := nodes[0], nodes[1]
	alice, bob := a.register("alice"), b.register("bob")
	roomID := alice.createRoom(map[string]any{"preset": "public_chat"})
	bob.join(roomID, a)
	since := bob.do("GET", "/_matrix/client/v3/sync", nil).str("next_batch")
	dev := alice.do("GET", "/_matrix/client/v3/account/whoami", nil).str("device_id")
	alice.must("POST", "/_matrix/client/v3/keys/upload", map[string]any{"device_keys": map[string]any{
		"user_id": alice.id, "device_id": dev, "keys": map[string]any{"ed25519:" + dev: "k"}}})
	eventually(t, "bob's device list shows alice changed", func() bool {
		r := bob.do("GET", "/_matrix/client/v3/sync?since="+since, nil)
		return strings.Contains(string(r.raw), `"changed":["`+alice.id+`"]`)
	})
}
