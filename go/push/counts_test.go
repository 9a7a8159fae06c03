package push

import (
	"context"
	"database/sql"
	"fmt"
	"testing"

	"github.com/matrix-org/gomatrixserverlib/spec"

	"hearth/go/room"
)

// A /sync counts the notifications of the events its timeline can show, up
// to its token: a notification stored for a later event (its commit not yet
// announced) waits for the next /sync, which also brings the event.
func TestUnreadCountsOnlyUpToTheSyncsPosition(t *testing.T) {
	ctx := context.Background()
	db := openTestDB(t)
	// In wasm every test shares one database: a room and a user of this test's own.
	const roomID = "!unread-up-to:example.org"
	user := spec.NewUserIDOrPanic("@unread-up-to:example.org", false)
	notified := []notifiedUser{{UserID: user.String(), Actions: `["notify"]`}}
	for i, pos := range []room.StreamPos{1041, 1042} {
		if err := db.Write(ctx, func(tx *sql.Tx) error {
			return storeNotifications(ctx, tx, roomID, fmt.Sprintf("$unread-up-to-%d", i), pos, "", 1234, notified)
		}); err != nil {
			t.Fatal(err)
		}
	}
	p := &Push{db: db}
	for _, c := range []struct {
		upTo room.StreamPos
		want int
	}{{1040, 0}, {1041, 1}, {1042, 2}, {5000, 2}} {
		got, err := p.Unread(ctx, user, roomID, c.upTo, false)
		if err != nil {
			t.Fatal(err)
		}
		if got.Main.Notifications != c.want {
			t.Errorf("up to %d: %d unread, want %d", c.upTo, got.Main.Notifications, c.want)
		}
	}
}
