package room

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/matrix-org/gomatrixserverlib"
)

// The full-text index of message bodies (table event_search, rowid = stream
// position), which Search reads. A redacted event leaves it.

// indexBody adds the body of a message event with a place in the timeline.
func indexBody(ctx context.Context, tx *sql.Tx, ev gomatrixserverlib.PDU, pos StreamPos) error {
	if ev.Type() != "m.room.message" {
		return nil
	}
	var c struct {
		Body string `json:"body"`
	}
	if json.Unmarshal(ev.Content(), &c) != nil || c.Body == "" {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO event_search (rowid, body) VALUES (?, ?)`, int64(pos), c.Body); err != nil {
		return fmt.Errorf("index body of %s: %w", ev.EventID(), err)
	}
	return nil
}

// unindexBody removes a redacted event's body.
func unindexBody(ctx context.Context, tx *sql.Tx, eventID string) error {
	if _, err := tx.ExecContext(ctx,
		`DELETE FROM event_search WHERE rowid = (SELECT stream_pos FROM events WHERE event_id = ?)`, eventID); err != nil {
		return fmt.Errorf("unindex body of %s: %w", eventID, err)
	}
	return nil
}
