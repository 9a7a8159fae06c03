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
// not stored are absent. Cold events' JSON comes from the store (cold_events.go).
func (r *core) loadEvents(ctx context.Context, q querier, v gomatrixserverlib.IRoomVersion, ids []string) (map[string]storedEvent, error) {
	out := make(map[string]storedEvent, len(ids))
	for chunk := range slices.Chunk(ids, maxSQLVars) {
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		var found []storedEvent
		var idsFound []string
		var raws []storedJSON
		err := func() error {
			rows, err := q.QueryContext(ctx,
				`SELECT event_id, stream_pos, json, rejected IS NOT NULL, outlier, state_before, state_after FROM events
				 WHERE event_id IN (?`+strings.Repeat(",?", len(chunk)-1)+`)`, args...)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var se storedEvent
				var id string
				var raw []byte
				if err := rows.Scan(&id, &se.Pos, &raw, &se.Rejected, &se.Outlier, &se.StateBefore, &se.StateAfter); err != nil {
					return err
				}
				found, idsFound, raws = append(found, se), append(idsFound, id), append(raws, storedJSON{pos: int64(se.Pos), raw: raw})
			}
			return rows.Err()
		}()
		if err != nil {
			return nil, fmt.Errorf("load events: %w", err)
		}
		if err := r.warm(ctx, raws); err != nil {
			return nil, err
		}
		for i, se := range found {
			if se.PDU, err = loadEvent(v, idsFound[i], raws[i].raw); err != nil {
				return nil, err
			}
			out[idsFound[i]] = se // the stored ID, not EventID(), which hashes the event again
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
