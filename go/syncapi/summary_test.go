package syncapi

import (
	"context"
	"crypto/rand"
	"path/filepath"
	"testing"

	"github.com/matrix-org/gomatrixserverlib/spec"

	"hearth/go/identity"
	"hearth/go/room"
	"hearth/go/storage"
)

// Issue 12: a sync must never fail because of another room's change. A
// sync decides which rooms to show from a snapshot of the user's rooms; if
// the user is banned from one (or leaves and forgets it) before its summary
// is built, the summary is still built, not refused with 403.
func TestSummaryOfARoomLeftSinceTheSnapshot(t *testing.T) {
	ctx := context.Background()
	db, err := storage.Open(ctx, filepath.Join(t.TempDir(), "hearth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	id, err := identity.Generate(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rooms := room.New(db, id, room.Options{})
	user := func(name string) spec.UserID {
		u, err := spec.NewUserID("@"+name+":"+string(id.ServerName), true)
		if err != nil {
			t.Fatal(err)
		}
		return *u
	}
	alice, bob := user("alice"), user("bob")
	roomID, err := rooms.Perform.Create(ctx, alice, room.CreateRequest{Preset: room.PresetPublicChat})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rooms.Perform.SetMembership(ctx, bob, roomID, bob, spec.Join, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := rooms.Perform.SetMembership(ctx, alice, roomID, bob, spec.Ban, ""); err != nil {
		t.Fatal(err)
	}
	s := New(rooms.Query, NewNotifier(Token{}), Sources{})
	summary, err := s.summary(ctx, bob, roomID)
	if err != nil {
		t.Fatalf("summary after the ban: %v", err)
	}
	if summary["m.joined_member_count"] != 1 {
		t.Fatalf("summary: %v", summary)
	}
}
