package room

import (
	"context"
	"database/sql"
	"encoding/json"
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
	a.rooms.Perform.outbox = func(_ context.Context, _ *sql.Tx, _ gomatrixserverlib.PDU, dests []spec.ServerName) (func(), error) {
		sentTo = append(sentTo, slices.Clone(dests))
		return nil, nil
	}
	alice, bob := a.user("alice"), b.user("bob")
	roomID, err := a.rooms.Perform.Create(context.Background(), alice, CreateRequest{Preset: PresetPublicChat})
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

// A local event takes the place of every forward extremity it names: after
// a fork of two (one event on each server at once) the next local event is
// the only extremity, and after a plain send too.
func TestLocalEventsReplaceTheExtremities(t *testing.T) {
	a, b := newPeer(t, 1, ""), newPeer(t, 2, "")
	alice, bob := a.user("alice"), b.user("bob")
	roomID, err := a.rooms.Perform.Create(context.Background(), alice, CreateRequest{Preset: PresetPublicChat})
	if err != nil {
		t.Fatal(err)
	}
	b.joinVia(bob, roomID, a)
	extremities := func() []string {
		t.Helper()
		ids, err := a.rooms.Query.Extremities(context.Background(), roomID)
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

// What a send reads of its room in one statement (readSendState): an unknown
// room, a sender not joined (refused), a transaction ID already used by this
// device in this room (the first event, even once the sender has left), and
// the same ID from another device or in another room (a new event).
func TestSendReadsItsRoomOnce(t *testing.T) {
	ctx := context.Background()
	rooms, alice, bob, roomID := publicRoomOfTwo(t)
	msg := json.RawMessage(`{"msgtype":"m.text","body":"hi"}`)
	send := func(sender spec.UserID, device, txnID, room string) (string, error) {
		return rooms.Perform.Send(ctx, sender, device, txnID, room, "m.room.message", nil, msg)
	}
	if _, err := send(alice, "D", "reads-1", "!nowhere:example.org"); !errors.Is(err, ErrRoomNotFound) {
		t.Fatalf("a send to an unknown room: err = %v, want ErrRoomNotFound", err)
	}
	first, err := send(bob, "D", "reads-1", roomID)
	if err != nil {
		t.Fatal(err)
	}
	otherDevice, err := send(bob, "E", "reads-1", roomID)
	if err != nil || otherDevice == first {
		t.Fatalf("the same transaction ID from another device: %s, %v (first %s)", otherDevice, err, first)
	}
	other, err := rooms.Perform.Create(ctx, bob, CreateRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if inOther, err := send(bob, "D", "reads-1", other); err != nil || inOther == first {
		t.Fatalf("the same transaction ID in another room: %s, %v (first %s)", inOther, err, first)
	}
	if _, err := rooms.Perform.SetMembership(ctx, bob, roomID, bob, spec.Leave, ""); err != nil {
		t.Fatal(err)
	}
	if again, err := send(bob, "D", "reads-1", roomID); err != nil || again != first {
		t.Fatalf("a retried send after leaving: %s, %v; want the first event %s", again, err, first)
	}
	if _, err := send(bob, "D", "reads-2", roomID); !errors.Is(err, ErrForbidden) {
		t.Fatalf("a send after leaving: err = %v, want ErrForbidden", err)
	}
	if _, err := send(bob, "D", "", roomID); !errors.Is(err, ErrForbidden) {
		t.Fatalf("a send without a transaction ID after leaving: err = %v, want ErrForbidden", err)
	}
}
