//go:build !js

// Client API state that crosses servers outside typing and receipts:
// to-device messages, device lists, presence.

package federation_test

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
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
	keys, _ := deviceKeys(t, alice.id, dev, false)
	alice.must("POST", "/_matrix/client/v3/keys/upload", map[string]any{"device_keys": keys})
	eventually(t, "bob's device list shows alice changed", func() bool {
		r := bob.do("GET", "/_matrix/client/v3/sync?since="+since, nil)
		return strings.Contains(string(r.raw), `"changed":["`+alice.id+`"]`)
	})
}

// The users of a peer the transport reaches are online; when it goes, offline.
func TestPresenceFollowsPeers(t *testing.T) {
	n := newNetwork(t)
	nodes := n.nodes(2)
	a, b := nodes[0], nodes[1]
	alice, bob := a.register("alice"), b.register("bob")
	roomID := alice.createRoom(map[string]any{"preset": "public_chat"})
	bob.join(roomID, a)

	var mu sync.Mutex
	reachable := []string{string(b.name)}
	list := func() []string { mu.Lock(); defer mu.Unlock(); return slices.Clone(reachable) }
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go a.srv.Federation.WatchPresence(ctx, list, 10*time.Millisecond)

	status := func() string {
		return alice.do("GET", "/_matrix/client/v3/presence/"+url.PathEscape(bob.id)+"/status", nil).str("presence")
	}
	eventually(t, "bob online", func() bool { return status() == "online" })
	mu.Lock()
	reachable = nil
	mu.Unlock()
	eventually(t, "bob offline", func() bool { return status() == "offline" })
}
