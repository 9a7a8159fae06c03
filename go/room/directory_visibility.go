package room

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/matrix-org/gomatrixserverlib/spec"
)

// A room's visibility in this server's room directory (client-server API
// v1.11, "GET/PUT /directory/list/room/{roomId}"): public rooms are
// published, listed by /publicRooms; private ones are not. The room's join
// rule is another matter: a published room may be invite-only.
const (
	DirectoryPublic  = "public"
	DirectoryPrivate = "private"
)

// SetDirectoryVisibility publishes a room in the directory or withdraws it,
// for a user whose power in the room suffices to change its
// m.room.canonical_alias (as Synapse asks: the room's moderators).
func (r *Performer) SetDirectoryVisibility(ctx context.Context, user spec.UserID, roomID, visibility string) error {
	if visibility != DirectoryPublic && visibility != DirectoryPrivate {
		return fmt.Errorf("%w: visibility must be public or private", ErrBadEvent)
	}
	return r.db.Write(ctx, func(tx *sql.Tx) error {
		if _, err := roomVersion(ctx, tx, roomID); err != nil {
			return err
		}
		if err := requireJoined(ctx, tx, roomID, user); err != nil {
			return err
		}
		ok, err := r.mayChangeState(ctx, tx, roomID, user, spec.MRoomCanonicalAlias)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("%w: %s may not change the directory entry of %s", ErrForbidden, user.String(), roomID)
		}
		return setPublished(ctx, tx, roomID, visibility == DirectoryPublic)
	})
}

func setPublished(ctx context.Context, tx *sql.Tx, roomID string, published bool) error {
	q := `DELETE FROM published_rooms WHERE room_id = ?`
	if published {
		q = `INSERT INTO published_rooms (room_id) VALUES (?) ON CONFLICT DO NOTHING`
	}
	if _, err := tx.ExecContext(ctx, q, roomID); err != nil {
		return fmt.Errorf("set directory visibility of %s: %w", roomID, err)
	}
	return nil
}
