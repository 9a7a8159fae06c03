package room

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"github.com/matrix-org/gomatrixserverlib"
)

// Stored events: loading them with the flags the federation rules need.

// storedEvent is an event row with the flags the federation rules need.
type storedEvent struct {
	gomatrixserverlib.PDU
	Pos      StreamPos
	Rejected bool // the auth rules refused it: never shown, never used for auth
	Outlier  bool // known without a place in the timeline (auth chain, join state, invite)
	// StateBefore and StateAfter are state groups; invalid for outliers and
	// backfilled events, whose state this server never computed.
	StateBefore, StateAfter sql.NullInt64
}

// maxSQLVars bounds the ? in one IN list: old SQLite builds allow 999.
const maxSQLVars = 500

// loadEvents returns the stored events among ids, keyed by event ID; those
// not stored are absent.
func loadEvents(ctx context.Context, q querier, v gomatrixserverlib.IRoomVersion, ids []string) (map[string]storedEvent, error) {
	out := make(map[string]storedEvent, len(ids))
	for chunk := range slices.Chunk(ids, maxSQLVars) {
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		rows, err := q.QueryContext(ctx,
			`SELECT event_id, stream_pos, json, rejected IS NOT NULL, outlier, state_before, state_after FROM events
			 WHERE event_id IN (?`+strings.Repeat(",?", len(chunk)-1)+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("load events: %w", err)
		}
		for rows.Next() {
			var se storedEvent
			var id string
			var raw []byte
			if err := rows.Scan(&id, &se.Pos, &raw, &se.Rejected, &se.Outlier, &se.StateBefore, &se.StateAfter); err != nil {
				rows.Close()
				return nil, fmt.Errorf("load events: %w", err)
			}
			if se.PDU, err = loadEvent(v, id, raw); err != nil {
				rows.Close()
				return nil, err
			}
			out[id] = se // the stored ID, not EventID(), which hashes the event again
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("load events: %w", err)
		}
	}
	return out, nil
}

func keys[K comparable, V any](m map[K]V) []K {
	out := make([]K, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
