package room

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/matrix-org/gomatrixserverlib"
)

// The full-text index of message bodies (table event_search, rowid = stream
// position), which Search reads. A redacted event leaves it. The index keeps
// no copy of the bodies: it reads them from the events' JSON (the view
// event_search_bodies, go/storage migration 17), so a body is unindexed while
// its JSON still holds it, and indexed only if that view shows it.

// indexBody adds the body of a message event with a place in the timeline,
// as the view shows it: what the index reads back when the row is deleted.
func indexBody(ctx context.Context, tx *sql.Tx, ev gomatrixserverlib.PDU, pos StreamPos) error {
	if ev.Type() != "m.room.message" {
		return nil
	}
	if _, err := tx.ExecContext(ctx,
		`INSERT INTO event_search (rowid, body) SELECT rowid, body FROM event_search_bodies WHERE rowid = ? AND body != ''`, int64(pos)); err != nil {
		return fmt.Errorf("index body of %s: %w", ev.EventID(), err)
	}
	return nil
}

// unindexBody removes a redacted event's body; call it before the JSON is redacted.
func unindexBody(ctx context.Context, tx *sql.Tx, eventID string) error {
	if _, err := tx.ExecContext(ctx,
		`DELETE FROM event_search WHERE rowid = (SELECT stream_pos FROM events WHERE event_id = ?)`, eventID); err != nil {
		return fmt.Errorf("unindex body of %s: %w", eventID, err)
	}
	return nil
}
