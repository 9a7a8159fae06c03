package room

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"github.com/matrix-org/gomatrixserverlib"
)

// stateKey is a (type, state_key) pair.
type stateKey struct{ Type, StateKey string }

// stateMap is a room state: the event ID of each (type, state_key).
type stateMap map[stateKey]string

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
			if se.PDU, err = loadEvent(v, raw); err != nil {
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

// resolve merges state maps with the room version's state resolution
// algorithm (v2 for every version Hearth joins). Identical maps need no work.
func resolve(ctx context.Context, q querier, v gomatrixserverlib.IRoomVersion, states []stateMap) (stateMap, error) {
	if len(states) == 1 {
		return states[0], nil
	}
	ids := map[string]bool{}
	for _, s := range states {
		for _, id := range s {
			ids[id] = true
		}
	}
	conflicted := false
	for k, id := range states[0] {
		for _, s := range states[1:] {
			if s[k] != id {
				conflicted = true
			}
		}
	}
	for _, s := range states[1:] {
		if len(s) != len(states[0]) {
			conflicted = true
		}
	}
	if !conflicted {
		return states[0], nil
	}
	events, err := loadEvents(ctx, q, v, keys(ids))
	if err != nil {
		return nil, err
	}
	pdus := make([]gomatrixserverlib.PDU, 0, len(events))
	for _, ev := range events {
		pdus = append(pdus, ev.PDU)
	}
	chain, rejected, err := authChainOf(ctx, q, v, pdus)
	if err != nil {
		return nil, err
	}
	resolved, err := gomatrixserverlib.ResolveConflicts(v.Version(), pdus, chain, userIDForSender,
		func(eventID string) bool { return rejected[eventID] })
	if err != nil {
		return nil, fmt.Errorf("resolve state: %w", err)
	}
	out := stateMap{}
	for _, ev := range resolved {
		out[stateKey{ev.Type(), *ev.StateKey()}] = ev.EventID()
	}
	return out, nil
}

// authChain returns every event reachable from ids through auth_events
// (not ids themselves unless reachable), and which of them were rejected.
func authChain(ctx context.Context, q querier, v gomatrixserverlib.IRoomVersion, ids []string) ([]gomatrixserverlib.PDU, map[string]bool, error) {
	events, err := loadEvents(ctx, q, v, ids)
	if err != nil {
		return nil, nil, err
	}
	from := make([]gomatrixserverlib.PDU, 0, len(events))
	for _, id := range ids {
		if ev, ok := events[id]; ok {
			from = append(from, ev.PDU)
		}
	}
	return authChainOf(ctx, q, v, from)
}

// authChainOf is authChain of events already loaded. The graph is read from
// the events' own auth_events: it is not stored twice.
func authChainOf(ctx context.Context, q querier, v gomatrixserverlib.IRoomVersion, from []gomatrixserverlib.PDU) ([]gomatrixserverlib.PDU, map[string]bool, error) {
	seen := map[string]bool{}
	var chain []gomatrixserverlib.PDU
	rejected := map[string]bool{}
	var frontier []string
	for _, ev := range from {
		frontier = append(frontier, ev.AuthEventIDs()...)
	}
	for len(frontier) > 0 {
		var next []string
		for _, id := range frontier {
			if !seen[id] {
				seen[id] = true
				next = append(next, id)
			}
		}
		events, err := loadEvents(ctx, q, v, next)
		if err != nil {
			return nil, nil, err
		}
		frontier = frontier[:0]
		for _, id := range next {
			if ev, ok := events[id]; ok {
				chain = append(chain, ev.PDU)
				rejected[id] = ev.Rejected
				frontier = append(frontier, ev.AuthEventIDs()...)
			}
		}
	}
	return chain, rejected, nil
}

// authEventsAt picks, from a state, the events the auth rules need to
// judge ev, skipping rejected ones.
func authEventsAt(ctx context.Context, q querier, v gomatrixserverlib.IRoomVersion, s *stateAt, ev gomatrixserverlib.PDU) (*gomatrixserverlib.AuthEvents, error) {
	var ids []string
	for _, t := range gomatrixserverlib.StateNeededForAuth([]gomatrixserverlib.PDU{ev}).Tuples() {
		id, err := s.get(ctx, q, stateKey{t.EventType, t.StateKey})
		if err != nil {
			return nil, err
		}
		if id != "" {
			ids = append(ids, id)
		}
	}
	return authEventsByID(ctx, q, v, ids)
}

// authEventsByID loads events as an auth event set; rejected events are left
// out, so that nothing is ever authorised by a rejected event.
func authEventsByID(ctx context.Context, q querier, v gomatrixserverlib.IRoomVersion, ids []string) (*gomatrixserverlib.AuthEvents, error) {
	events, err := loadEvents(ctx, q, v, ids)
	if err != nil {
		return nil, err
	}
	auth, _ := gomatrixserverlib.NewAuthEvents(nil)
	for _, id := range ids {
		ev, ok := events[id]
		if !ok || ev.Rejected {
			continue
		}
		if err := auth.AddEvent(ev.PDU); err != nil {
			return nil, fmt.Errorf("add auth event: %w", err)
		}
	}
	return auth, nil
}

func keys[K comparable, V any](m map[K]V) []K {
	out := make([]K, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
