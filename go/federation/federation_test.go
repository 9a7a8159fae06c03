//go:build !js

package federation_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"hearth/go/federation"
)

// Create on A, B and C join by room ID; messages from all three arrive
// everywhere in the same order; the joiners see history from before they
// joined (backfilled).
func TestThreeServersChat(t *testing.T) {
	n := newNetwork(t)
	nodes := n.nodes(3)
	a, b, c := nodes[0], nodes[1], nodes[2]
	alice, bob, carol := a.register("alice"), b.register("bob"), c.register("carol")

	roomID := alice.createRoom(map[string]any{"preset": "public_chat", "name": "Hearth"})
	alice.say(roomID, "before anyone came")
	bob.join(roomID, a)
	carol.join(roomID, b) // any resident server will do

	if got := bob.texts(roomID); !slices.Contains(got, "before anyone came") {
		t.Fatalf("bob's history misses the message before his join: %v", got)
	}
	if r := carol.state(roomID, "m.room.name", ""); r.str("name") != "Hearth" {
		t.Fatalf("carol sees room name %q (%d)", r.str("name"), r.status)
	}

	users := []*user{alice, bob, carol}
	var sent []string
	for round := range 2 {
		for _, u := range users {
			text := fmt.Sprintf("%s says %d", u.id, round)
			u.say(roomID, text)
			sent = append(sent, text)
			for _, other := range users {
				eventually(t, other.id+" to see "+text, func() bool { return slices.Contains(other.texts(roomID), text) })
			}
		}
	}
	want := alice.texts(roomID)
	for _, u := range users[1:] {
		if got := u.texts(roomID); !slices.Equal(got, want) {
			t.Errorf("%s sees\n%v\nalice sees\n%v", u.id, got, want)
		}
	}
	if !hasAll(want, sent...) {
		t.Fatalf("messages missing: %v", want)
	}
	// And each sees all three as members.
	for _, u := range users {
		for _, m := range users {
			if r := u.state(roomID, "m.room.member", m.id); r.str("membership") != "join" {
				t.Errorf("%s sees %s as %q", u.id, m.id, r.str("membership"))
			}
		}
	}
}

// C goes offline; A and B keep talking; C returns and catches up without
// any user doing anything.
func TestOfflineServerCatchesUp(t *testing.T) {
	n := newNetwork(t)
	nodes := n.nodes(3)
	a, b, c := nodes[0], nodes[1], nodes[2]
	alice, bob, carol := a.register("alice"), b.register("bob"), c.register("carol")
	roomID := alice.createRoom(map[string]any{"preset": "public_chat"})
	bob.join(roomID, a)
	carol.join(roomID, a)

	n.setOnline(c, false, nodes)
	var missed []string
	for i := range 3 {
		for _, u := range []*user{alice, bob} {
			text := fmt.Sprintf("%s while C is away %d", u.id, i)
			u.say(roomID, text)
			missed = append(missed, text)
		}
	}
	eventually(t, "bob to have alice's messages", func() bool { return hasAll(bob.texts(roomID), missed...) })
	if got := carol.texts(roomID); len(got) != 0 {
		t.Fatalf("carol got messages while offline: %v", got)
	}
	n.setOnline(c, true, nodes)
	eventually(t, "carol to catch up", func() bool { return hasAll(carol.texts(roomID), missed...) })
	// Each server's messages arrive in the order sent; how the two servers'
	// streams interleave is the order carol's server learned them.
	for _, sender := range []*user{alice, bob} {
		if got, want := from(sender, carol.texts(roomID)), from(sender, alice.texts(roomID)); !slices.Equal(got, want) {
			t.Errorf("carol sees %s's messages as %v, alice as %v", sender.id, got, want)
		}
	}
}

// from keeps the texts a user sent (they start with the user ID).
func from(u *user, texts []string) []string {
	var out []string
	for _, s := range texts {
		if strings.HasPrefix(s, u.id+" ") {
			out = append(out, s)
		}
	}
	return out
}

// When the queue to an absent peer overflows, the oldest events are dropped
// and the peer fetches them itself (get_missing_events) when the newest arrive.
func TestGapFilledFromMissingEvents(t *testing.T) {
	n := newNetwork(t)
	opts := fastQueue
	opts.MaxPDUs = 1
	a, c := n.node(opts), n.node(opts)
	nodes := []*node{a, c}
	alice, carol := a.register("alice"), c.register("carol")
	roomID := alice.createRoom(map[string]any{"preset": "public_chat"})
	carol.join(roomID, a)

	n.setOnline(c, false, nodes)
	var missed []string
	for i := range 5 {
		text := fmt.Sprintf("missed %d", i)
		alice.say(roomID, text)
		missed = append(missed, text)
	}
	n.setOnline(c, true, nodes)
	eventually(t, "carol to fill the gap", func() bool { return hasAll(carol.texts(roomID), missed...) })
	if got := carol.texts(roomID); !slices.Equal(got, missed) {
		t.Fatalf("carol sees %v", got)
	}
}

// A peer that reappears in the transport's peer list gets its queue at once,
// not after the back-off. The transport is asked about the servers sharing a
// room and no others (not this one, not a stranger).
func TestWatchPeersKicksReturningPeer(t *testing.T) {
	n := newNetwork(t)
	slow := federation.QueueOptions{Backoff: federation.Backoff{Initial: time.Hour, Max: time.Hour}}
	a, c := n.node(slow), n.node(slow)
	alice, carol := a.register("alice"), c.register("carol")
	roomID := alice.createRoom(map[string]any{"preset": "public_chat"})
	carol.join(roomID, a)

	stranger := n.node(slow)
	var mu sync.Mutex
	peers := []string{string(stranger.name)}
	var watched []string
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go a.srv.Federation.WatchPeers(ctx, func(watch []string) []string {
		mu.Lock()
		defer mu.Unlock()
		watched = slices.Clone(watch)
		return slices.DeleteFunc(slices.Clone(peers), func(p string) bool { return !slices.Contains(watch, p) })
	}, 5*time.Millisecond)
	eventually(t, "the transport to be asked about the room's other server only", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return slices.Equal(watched, []string{string(c.name)})
	})

	n.net.SetOnline(c.name, false)
	alice.say(roomID, "while you were away")
	eventually(t, "the first attempt to fail", func() bool {
		pending, _ := a.srv.Federation.Pending(ctx, c.name)
		return pending == 1
	})
	n.net.SetOnline(c.name, true)
	mu.Lock()
	peers = append(peers, string(c.name))
	mu.Unlock()
	eventually(t, "carol to get the message without waiting an hour", func() bool {
		return slices.Contains(carol.texts(roomID), "while you were away")
	})
}
