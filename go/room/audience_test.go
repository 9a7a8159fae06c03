package room

import (
	"context"
	"database/sql"
	"path/filepath"
	"slices"
	"testing"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"

	"hearth/go/storage"
)

// audienceCheck records the audience the new-event hook hears and compares
// it with the members current_state gives.
type audienceCheck struct {
	t     *testing.T
	heard [][]Member
}

func (c *audienceCheck) hook(_ context.Context, _ *sql.Tx, _ gomatrixserverlib.PDU, _ StreamPos, a Audience) (func(), error) {
	c.heard = append(c.heard, a.Joined)
	return nil, nil
}

// step runs do, which must store exactly one new event, and fails unless
// its audience was the room's stored members.
func (c *audienceCheck) step(name string, rooms *Rooms, roomID string, do func()) []Member {
	c.t.Helper()
	c.heard = nil
	do()
	if len(c.heard) != 1 {
		c.t.Fatalf("%s: the hook heard %d events", name, len(c.heard))
	}
	var stored []Member
	err := rooms.Perform.db.Write(context.Background(), func(tx *sql.Tx) error {
		var err error
		stored, err = loadJoinedMembers(context.Background(), tx, roomID)
		return err
	})
	if err != nil {
		c.t.Fatal(err)
	}
	if !slices.Equal(c.heard[0], stored) {
		c.t.Fatalf("%s: the audience is %v, current_state says %v", name, c.heard[0], stored)
	}
	return stored
}

// A state event's audience is derived from the members before it
// (joinedMembersAfter), not read again: after each kind of member change,
// and after a display name SQL reads differently from JSON, it must be the
// list current_state gives.
func TestAudienceAfterLocalMemberChangesIsTheStoredOne(t *testing.T) {
	ctx := context.Background()
	check := &audienceCheck{t: t}
	rooms, id := newRoomsWith(t, Options{NewEvent: check.hook})
	user := func(name string) spec.UserID { return userID(t, "@"+name+":"+string(id.ServerName)) }
	alice, bob, carol, dave, erin := user("alice"), user("bob"), user("carol"), user("dave"), user("erin")
	roomID, err := rooms.Perform.Create(ctx, alice, CreateRequest{Preset: PresetPublicChat})
	if err != nil {
		t.Fatal(err)
	}
	must := func(_ string, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	topic := ""
	steps := []struct {
		name string
		do   func()
	}{
		{"a join", func() { must(rooms.Perform.SetMembership(ctx, bob, roomID, bob, spec.Join, "")) }},
		{"a join with a display name", func() {
			must(rooms.Perform.JoinWithContent(ctx, carol, roomID, map[string]any{"displayname": "Carol"}))
		}},
		{"a new display name", func() { must(rooms.Perform.JoinWithContent(ctx, carol, roomID, map[string]any{"displayname": "Caz"})) }},
		{"a display name that is a number", func() { must(rooms.Perform.JoinWithContent(ctx, dave, roomID, map[string]any{"displayname": 7})) }},
		{"other state", func() {
			must(rooms.Perform.Send(ctx, alice, "DEV", "", roomID, spec.MRoomTopic, &topic, []byte(`{"topic":"tea"}`)))
		}},
		{"an invite", func() { must(rooms.Perform.SetMembership(ctx, alice, roomID, erin, spec.Invite, "")) }},
		{"a leave", func() { must(rooms.Perform.SetMembership(ctx, bob, roomID, bob, spec.Leave, "")) }},
		{"a ban", func() { must(rooms.Perform.SetMembership(ctx, alice, roomID, carol, spec.Ban, "")) }},
	}
	var last []Member
	for _, s := range steps {
		last = check.step(s.name, rooms, roomID, s.do)
	}
	if len(last) != 2 || last[0].UserID != alice || last[1].UserID != dave || last[1].DisplayName != "7" {
		t.Fatalf("after the steps: %v", last)
	}
}

// The same for events received from another server, whose state may also
// come from resolving a fork (then the members are read).
func TestAudienceAfterReceivedMemberChangesIsTheStoredOne(t *testing.T) {
	ctx := context.Background()
	check := &audienceCheck{t: t}
	db, err := storage.Open(ctx, filepath.Join(t.TempDir(), "hearth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	a := newPeerWith(t, 1, db, Options{NewEvent: check.hook})
	other := newPeer(t, 2, "")
	alice := a.user("alice")
	roomID, err := a.rooms.Perform.Create(ctx, alice, CreateRequest{Preset: PresetPublicChat})
	if err != nil {
		t.Fatal(err)
	}
	bob, carol := other.user("bob"), other.user("carol")
	other.joinVia(bob, roomID, a)
	remote := func(do func() (string, error)) func() {
		return func() {
			id, err := do()
			if err != nil {
				t.Fatal(err)
			}
			a.deliver(other.event(roomID, id))
		}
	}
	check.step("a join", a.rooms, roomID, remote(func() (string, error) {
		return other.rooms.Perform.JoinWithContent(ctx, carol, roomID, map[string]any{"displayname": "Carol"})
	}))
	check.step("a new display name", a.rooms, roomID, remote(func() (string, error) {
		return other.rooms.Perform.JoinWithContent(ctx, carol, roomID, map[string]any{"displayname": "Caz"})
	}))
	// A fork: a topic here while bob leaves there; bob's leave names only
	// the event before the topic, so the room's state is resolved.
	empty := ""
	topic := a.send(alice, roomID, spec.MRoomTopic, &empty, `{"topic":"fork"}`)
	check.step("a leave beside a topic", a.rooms, roomID, remote(func() (string, error) {
		return other.rooms.Perform.SetMembership(ctx, bob, roomID, bob, spec.Leave, "")
	}))
	other.deliver(topic)
	last := check.step("a leave after the merge", a.rooms, roomID, remote(func() (string, error) {
		return other.rooms.Perform.SetMembership(ctx, carol, roomID, carol, spec.Leave, "")
	}))
	if len(last) != 1 || last[0].UserID != alice {
		t.Fatalf("after the steps: %v", last)
	}
}
