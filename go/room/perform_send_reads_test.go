package room

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"testing"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"
)

// A local event is sent to the servers joined after it, read from the joined
// members the write already has (cached per state group): a server that
// joins gets the very next message, one that leaves does not.
func TestLocalSendsGoToTheServersJoinedNow(t *testing.T) {
	a, b := newPeer(t, 1, ""), newPeer(t, 2, "")
	var sentTo [][]spec.ServerName
	a.rooms.outbox = func(_ context.Context, _ *sql.Tx, _ gomatrixserverlib.PDU, dests []spec.ServerName) (func(), error) {
		sentTo = append(sentTo, slices.Clone(dests))
		return nil, nil
	}
	alice, bob := a.user("alice"), b.user("bob")
	roomID, err := a.rooms.Create(context.Background(), alice, CreateRequest{Preset: PresetPublicChat})
	if err != nil {
		t.Fatal(err)
	}
	message := func() []spec.ServerName {
		t.Helper()
		sentTo = nil
		a.send(alice, roomID, "m.room.message", nil, `{"msgtype":"m.text","body":"hi"}`)
		if len(sentTo) == 0 {
			return nil
		}
		return sentTo[len(sentTo)-1]
	}
	if got := message(); len(got) != 0 {
		t.Fatalf("a room of one server sent its message to %v", got)
	}
	b.joinVia(bob, roomID, a)
	if got := message(); !slices.Equal(got, []spec.ServerName{b.name}) {
		t.Fatalf("after bob's join the message went to %v, want [%s]", got, b.name)
	}
	sk := bob.String()
	a.deliver(b.send(bob, roomID, spec.MRoomMember, &sk, `{"membership":"leave"}`))
	if got := message(); len(got) != 0 {
		t.Fatalf("after bob left the message went to %v", got)
	}
}

// A room's version is cached only once the write that read it commits: a
// room inserted by a write that rolls back stays unknown.
func TestRoomVersionIsNotCachedFromARolledBackWrite(t *testing.T) {
	ctx := context.Background()
	rooms, _ := newRooms(t)
	const roomID = "!rolledback:example.org"
	refuse := errors.New("refused")
	err := rooms.write(ctx, func(w *writeTx) error {
		if _, err := w.tx.ExecContext(ctx, `INSERT INTO rooms (room_id, room_version) VALUES (?, ?)`, roomID, string(DefaultVersion)); err != nil {
			return err
		}
		if _, err := rooms.versionOf(ctx, w, roomID); err != nil {
			return err
		}
		return refuse
	})
	if !errors.Is(err, refuse) {
		t.Fatalf("write: %v", err)
	}
	err = rooms.write(ctx, func(w *writeTx) error {
		_, err := rooms.versionOf(ctx, w, roomID)
		return err
	})
	if !errors.Is(err, ErrRoomNotFound) {
		t.Fatalf("the rolled-back room's version was remembered: err = %v", err)
	}
}

// A local event takes the place of every forward extremity it names: after
// a fork of two (one event on each server at once) the next local event is
// the only extremity, and after a plain send too.
func TestLocalEventsReplaceTheExtremities(t *testing.T) {
	a, b := newPeer(t, 1, ""), newPeer(t, 2, "")
	alice, bob := a.user("alice"), b.user("bob")
	roomID, err := a.rooms.Create(context.Background(), alice, CreateRequest{Preset: PresetPublicChat})
	if err != nil {
		t.Fatal(err)
	}
	b.joinVia(bob, roomID, a)
	extremities := func() []string {
		t.Helper()
		ids, err := a.rooms.Extremities(context.Background(), roomID)
		if err != nil {
			t.Fatal(err)
		}
		return ids
	}
	msg := `{"msgtype":"m.text","body":"hi"}`
	fromA := a.send(alice, roomID, "m.room.message", nil, msg)
	fromB := b.send(bob, roomID, "m.room.message", nil, msg)
	a.deliver(fromB)
	want := []string{fromA.EventID(), fromB.EventID()}
	slices.Sort(want)
	if got := extremities(); !slices.Equal(got, want) {
		t.Fatalf("after the fork the extremities are %v, want %v", got, want)
	}
	merge := a.send(alice, roomID, "m.room.message", nil, msg)
	if got := extremities(); !slices.Equal(got, []string{merge.EventID()}) {
		t.Fatalf("after the merging event the extremities are %v, want [%s]", got, merge.EventID())
	}
	if prevs := merge.PrevEventIDs(); len(prevs) != 2 {
		t.Fatalf("the merging event names %v", prevs)
	}
	next := a.send(alice, roomID, "m.room.message", nil, msg)
	if got := extremities(); !slices.Equal(got, []string{next.EventID()}) {
		t.Fatalf("after a plain send the extremities are %v, want [%s]", got, next.EventID())
	}
}
