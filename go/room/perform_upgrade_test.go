package room

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"
)

// An upgrade that fails half-way (here: storing the tombstone fails, after
// the new room was written in the same transaction) changes nothing: no new
// room, no tombstone, the user in the same rooms (client-server API v1.11,
// "Room Upgrades": the new room and the tombstone go together).
func TestUpgradeIsAllOrNothing(t *testing.T) {
	ctx := context.Background()
	rooms, alice, _, roomID := publicRoomOfTwo(t)
	failTombstone := true
	rooms.Perform.newEvent = func(_ context.Context, _ *sql.Tx, ev gomatrixserverlib.PDU, _ StreamPos, _ Audience) (func(), error) {
		if failTombstone && ev.Type() == "m.room.tombstone" {
			return nil, errors.New("disk full")
		}
		return nil, nil
	}
	before, err := rooms.Query.JoinedRooms(ctx, alice)
	if err != nil {
		t.Fatal(err)
	}
	var roomsBefore int
	if err := rooms.Query.db.QueryRow(ctx, `SELECT COUNT(*) FROM rooms`).Scan(&roomsBefore); err != nil {
		t.Fatal(err)
	}
	if _, err := rooms.Perform.Upgrade(ctx, alice, roomID, string(DefaultVersion)); err == nil {
		t.Fatal("the upgrade succeeded although its tombstone failed")
	}
	after, err := rooms.Query.JoinedRooms(ctx, alice)
	if err != nil {
		t.Fatal(err)
	}
	var roomsAfter int
	if err := rooms.Query.db.QueryRow(ctx, `SELECT COUNT(*) FROM rooms`).Scan(&roomsAfter); err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before) || roomsAfter != roomsBefore {
		t.Fatalf("a failed upgrade left a room behind: joined %v -> %v, rooms %d -> %d", before, after, roomsBefore, roomsAfter)
	}
	if _, err := rooms.Query.StateEvent(ctx, alice, roomID, "m.room.tombstone", ""); !errors.Is(err, ErrEventNotFound) {
		t.Fatalf("the old room has a tombstone: %v", err)
	}

	// Once storing works, the same upgrade goes through, all of it.
	failTombstone = false
	newRoomID, err := rooms.Perform.Upgrade(ctx, alice, roomID, string(DefaultVersion))
	if err != nil {
		t.Fatal(err)
	}
	tomb, err := rooms.Query.StateEvent(ctx, alice, roomID, "m.room.tombstone", "")
	if err != nil {
		t.Fatal(err)
	}
	if got := string(tomb.Content()); !strings.Contains(got, newRoomID) {
		t.Fatalf("tombstone %s does not name %s", got, newRoomID)
	}
	if m, err := membership(ctx, reader{rooms.Query.db}, newRoomID, alice); err != nil || m != spec.Join {
		t.Fatalf("alice in the new room: %q %v", m, err)
	}
}
