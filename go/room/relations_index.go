package room

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/matrix-org/gomatrixserverlib"
)

// Relation types of the client-server API ("Forming relationships between
// events" and the modules that define each).
const (
	RelReplace    = "m.replace"   // edits
	RelReference  = "m.reference" // references
	RelThread     = "m.thread"    // threads
	RelAnnotation = "m.annotation"
)

// relatesTo is the m.relates_to of an event's content.
type relatesTo struct {
	EventID string `json:"event_id"`
	RelType string `json:"rel_type"`
}

// relationOf returns the relation an event's content declares, if any.
func relationOf(ev gomatrixserverlib.PDU) (relatesTo, bool) {
	var c struct {
		RelatesTo *relatesTo `json:"m.relates_to"`
	}
	if json.Unmarshal(ev.Content(), &c) != nil || c.RelatesTo == nil || c.RelatesTo.EventID == "" || c.RelatesTo.RelType == "" {
		return relatesTo{}, false
	}
	return *c.RelatesTo, true
}

// indexRelation records the relation an event being stored declares, and
// returns it (zero: none). The event's own flags (rejected, soft-failed,
// outlier) are applied when reading.
func indexRelation(ctx context.Context, tx *sql.Tx, ev gomatrixserverlib.PDU) (relatesTo, error) {
	rel, ok := relationOf(ev)
	if !ok {
		return relatesTo{}, nil
	}
	_, err := tx.ExecContext(ctx,
		`INSERT OR REPLACE INTO event_relations (event_id, room_id, relates_to, rel_type, type) VALUES (?, ?, ?, ?, ?)`,
		ev.EventID(), ev.RoomID().String(), rel.EventID, rel.RelType, ev.Type())
	if err != nil {
		return rel, fmt.Errorf("index relation of %s: %w", ev.EventID(), err)
	}
	return rel, nil
}
