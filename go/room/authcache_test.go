package room

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"github.com/matrix-org/gomatrixserverlib/spec"
)

// The auth cache (authcache.go) must never let a send be judged by state
// older than the room's current state: each case reads the auth events once
// (a send fills the cache), changes the state, and checks the next send.
func TestAuthCacheSeesStateChanges(t *testing.T) {
	ctx := context.Background()
	rooms, alice, bob, roomID := publicRoomOfTwo(t)
	msg := json.RawMessage(`{"msgtype":"m.text","body":"hi"}`)
	send := func(sender spec.UserID) (string, error) {
		return rooms.Perform.Send(ctx, sender, "DEV", "", roomID, "m.room.message", nil, msg)
	}
	empty := ""

	t.Run("the sender's new member event is cited", func(t *testing.T) {
		if _, err := send(bob); err != nil {
			t.Fatal(err)
		}
		bobKey := bob.String()
		renamed, err := rooms.Perform.Send(ctx, bob, "DEV", "", roomID, spec.MRoomMember, &bobKey, json.RawMessage(`{"membership":"join","displayname":"Bob 2"}`))
		if err != nil {
			t.Fatal(err)
		}
		sent, err := send(bob)
		if err != nil {
			t.Fatal(err)
		}
		ev, err := rooms.Query.Event(ctx, roomID, sent)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(ev.AuthEventIDs(), renamed) {
			t.Fatalf("auth events %v do not cite bob's current member event %s", ev.AuthEventIDs(), renamed)
		}
	})

	t.Run("power levels raised", func(t *testing.T) {
		if _, err := send(bob); err != nil {
			t.Fatal(err)
		}
		pl := json.RawMessage(`{"users":{"` + alice.String() + `":100},"events_default":50}`)
		if _, err := rooms.Perform.Send(ctx, alice, "DEV", "", roomID, spec.MRoomPowerLevels, &empty, pl); err != nil {
			t.Fatal(err)
		}
		if _, err := send(bob); !errors.Is(err, ErrForbidden) {
			t.Fatalf("bob sent below events_default: err = %v", err)
		}
		if _, err := send(alice); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("a refused send caches nothing wrong", func(t *testing.T) {
		pl := json.RawMessage(`{"users":{"` + alice.String() + `":100},"events_default":0}`)
		if _, err := rooms.Perform.Send(ctx, bob, "DEV", "", roomID, spec.MRoomPowerLevels, &empty, pl); !errors.Is(err, ErrForbidden) {
			t.Fatalf("bob changed power levels: err = %v", err)
		}
		if _, err := send(bob); !errors.Is(err, ErrForbidden) {
			t.Fatalf("bob sent below events_default: err = %v", err)
		}
	})

	t.Run("a redaction empties the cache", func(t *testing.T) {
		sent, err := send(alice)
		if err != nil {
			t.Fatal(err)
		}
		if len(rooms.Query.auth.rooms) == 0 {
			t.Fatal("a send left nothing in the cache")
		}
		if _, err := rooms.Perform.Redact(ctx, alice, "DEV", "", roomID, sent, ""); err != nil {
			t.Fatal(err)
		}
		if len(rooms.Query.auth.rooms) != 0 {
			t.Fatal("the cache outlived a redaction")
		}
	})
}

// A fill read before an invalidation is dropped, not stored.
func TestAuthCacheDropsStaleFill(t *testing.T) {
	c := newAuthCache()
	p := &pendingAuth{gen: c.begin(), rooms: map[string]*authEntry{}}
	p.note("!r:x", 1, stateKey{spec.MRoomCreate, ""}, nil)
	c.invalidate()
	c.add(p)
	if _, ok := c.lookup("!r:x", 1, stateKey{spec.MRoomCreate, ""}); ok {
		t.Fatal("a fill from before an invalidation was stored")
	}
	p = &pendingAuth{gen: c.begin(), rooms: map[string]*authEntry{}}
	p.note("!r:x", 1, stateKey{spec.MRoomCreate, ""}, nil)
	c.add(p)
	if _, ok := c.lookup("!r:x", 2, stateKey{spec.MRoomCreate, ""}); ok {
		t.Fatal("an entry of group 1 answered for group 2")
	}
	if _, ok := c.lookup("!r:x", 1, stateKey{spec.MRoomCreate, ""}); !ok {
		t.Fatal("a committed fill was not stored")
	}
}
