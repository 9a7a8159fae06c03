package room

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/matrix-org/gomatrixserverlib"
)

// The full-text index of the searchable text of events (table event_search,
// rowid = stream position, one text per event in its column "body"), which
// Search reads. A redacted event leaves it. The index keeps no copy of the
// texts: it reads them from the events' JSON (the view event_search_bodies,
// go/storage migration 20), so a text is unindexed while its JSON still
// holds it, and indexed only as that view shows it.

// SearchKeys are the keys /search can search (client-server API v1.11,
// "POST /search": keys), each the one text of one event type, so the event
// type says which key an indexed text is.
var SearchKeys = map[string]string{
	"content.body":  "m.room.message",
	"content.name":  "m.room.name",
	"content.topic": "m.room.topic",
}

// searchable reports whether an event is of a type whose text is indexed: a
// message, a room's name or topic.
func searchable(ev gomatrixserverlib.PDU) bool {
	switch ev.Type() {
	case "m.room.message":
		return true
	case "m.room.name", "m.room.topic":
		return ev.StateKeyEquals("")
	}
	return false
}

// searchText returns the indexed text of an event: a message's body, a
// room name or topic; "" for other events.
func searchText(ev gomatrixserverlib.PDU) string {
	if !searchable(ev) {
		return ""
	}
	var c struct {
		Body  string `json:"body"`
		Name  string `json:"name"`
		Topic string `json:"topic"`
	}
	if json.Unmarshal(ev.Content(), &c) != nil {
		return ""
	}
	switch ev.Type() {
	case "m.room.name":
		return c.Name
	case "m.room.topic":
		return c.Topic
	}
	return c.Body
}

// indexBody adds the searchable text of an event with a place in the
// timeline, as the view shows it: what the index reads back when the row is
// deleted. Which text, and whether it is empty, the view decides: no need
// to decode the event here.
func indexBody(ctx context.Context, tx *sql.Tx, ev gomatrixserverlib.PDU, pos StreamPos) error {
	if !searchable(ev) {
		return nil
	}
	if _, err := tx.ExecContext(ctx,
		`INSERT INTO event_search (rowid, body) SELECT rowid, body FROM event_search_bodies WHERE rowid = ? AND body != ''`, int64(pos)); err != nil {
		return fmt.Errorf("index text of %s: %w", ev.EventID(), err)
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
