package room

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"
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
	// StateBefore and StateAfter are snapshot IDs; invalid for outliers and
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
			`SELECT stream_pos, json, rejected IS NOT NULL, outlier, state_before, state_after FROM events
			 WHERE event_id IN (?`+strings.Repeat(",?", len(chunk)-1)+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("load events: %w", err)
		}
		for rows.Next() {
			var se storedEvent
			var raw []byte
			if err := rows.Scan(&se.Pos, &raw, &se.Rejected, &se.Outlier, &se.StateBefore, &se.StateAfter); err != nil {
				rows.Close()
				return nil, fmt.Errorf("load events: %w", err)
			}
			if se.PDU, err = loadEvent(v, raw); err != nil {
				rows.Close()
				return nil, err
			}
			out[se.EventID()] = se
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("load events: %w", err)
		}
	}
	return out, nil
}

// loadSnapshot reads one state snapshot.
func loadSnapshot(ctx context.Context, q querier, id int64) (stateMap, error) {
	rows, err := q.QueryContext(ctx, `SELECT type, state_key, event_id FROM state_entries WHERE snapshot_id = ?`, id)
	if err != nil {
		return nil, fmt.Errorf("load state snapshot %d: %w", id, err)
	}
	defer rows.Close()
	s := stateMap{}
	for rows.Next() {
		var k stateKey
		var eventID string
		if err := rows.Scan(&k.Type, &k.StateKey, &eventID); err != nil {
			return nil, fmt.Errorf("load state snapshot %d: %w", id, err)
		}
		s[k] = eventID
	}
	return s, rows.Err()
}

// newSnapshot stores a state map as a new snapshot.
func newSnapshot(ctx context.Context, tx *sql.Tx, roomID string, s stateMap) (int64, error) {
	res, err := tx.ExecContext(ctx, `INSERT INTO state_snapshots (room_id) VALUES (?)`, roomID)
	if err != nil {
		return 0, fmt.Errorf("insert state snapshot: %w", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, fmt.Errorf("insert state snapshot: %w", err)
	}
	for k, eventID := range s {
		if _, err := tx.ExecContext(ctx, `INSERT INTO state_entries (snapshot_id, type, state_key, event_id) VALUES (?, ?, ?, ?)`,
			id, k.Type, k.StateKey, eventID); err != nil {
			return 0, fmt.Errorf("insert state entry: %w", err)
		}
	}
	return id, nil
}

// stateAfter returns the snapshot after ev given the one before it: the
// same snapshot for a message event, a copy with ev in place for a state event.
func stateAfter(ctx context.Context, tx *sql.Tx, before int64, ev gomatrixserverlib.PDU) (int64, error) {
	sk := ev.StateKey()
	if sk == nil {
		return before, nil
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO state_snapshots (room_id) VALUES (?)`, ev.RoomID().String())
	if err != nil {
		return 0, fmt.Errorf("insert state snapshot: %w", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, fmt.Errorf("insert state snapshot: %w", err)
	}
	if _, err := tx.ExecContext(ctx,
		`INSERT INTO state_entries (snapshot_id, type, state_key, event_id)
		 SELECT ?, type, state_key, event_id FROM state_entries WHERE snapshot_id = ? AND NOT (type = ? AND state_key = ?)`,
		id, before, ev.Type(), *sk); err != nil {
		return 0, fmt.Errorf("copy state snapshot: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO state_entries (snapshot_id, type, state_key, event_id) VALUES (?, ?, ?, ?)`,
		id, ev.Type(), *sk, ev.EventID()); err != nil {
		return 0, fmt.Errorf("insert state entry: %w", err)
	}
	return id, nil
}

// currentSnapshot returns the snapshot of a room's current state, making one
// from the current_state table for rooms created before snapshots existed.
func currentSnapshot(ctx context.Context, tx *sql.Tx, roomID string) (int64, error) {
	var id sql.NullInt64
	if err := tx.QueryRowContext(ctx, `SELECT current_snapshot FROM rooms WHERE room_id = ?`, roomID).Scan(&id); err != nil {
		return 0, fmt.Errorf("load current snapshot of %s: %w", roomID, err)
	}
	if id.Valid {
		return id.Int64, nil
	}
	rows, err := tx.QueryContext(ctx, `SELECT type, state_key, event_id FROM current_state WHERE room_id = ?`, roomID)
	if err != nil {
		return 0, fmt.Errorf("load current state of %s: %w", roomID, err)
	}
	s := stateMap{}
	for rows.Next() {
		var k stateKey
		var eventID string
		if err := rows.Scan(&k.Type, &k.StateKey, &eventID); err != nil {
			rows.Close()
			return 0, fmt.Errorf("load current state of %s: %w", roomID, err)
		}
		s[k] = eventID
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("load current state of %s: %w", roomID, err)
	}
	snap, err := newSnapshot(ctx, tx, roomID, s)
	if err != nil {
		return 0, err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE rooms SET current_snapshot = ? WHERE room_id = ?`, snap, roomID); err != nil {
		return 0, fmt.Errorf("set current snapshot: %w", err)
	}
	return snap, nil
}

// setCurrentState makes snapshot the room's current state and rewrites the
// current_state table (which the read paths use) to match it.
func setCurrentState(ctx context.Context, tx *sql.Tx, v gomatrixserverlib.IRoomVersion, roomID string, snapshot int64) error {
	if _, err := tx.ExecContext(ctx, `UPDATE rooms SET current_snapshot = ? WHERE room_id = ?`, snapshot, roomID); err != nil {
		return fmt.Errorf("set current snapshot: %w", err)
	}
	s, err := loadSnapshot(ctx, tx, snapshot)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM current_state WHERE room_id = ?`, roomID); err != nil {
		return fmt.Errorf("clear current state: %w", err)
	}
	var memberIDs []string
	for k, id := range s {
		if k.Type == spec.MRoomMember {
			memberIDs = append(memberIDs, id)
		}
	}
	members, err := loadEvents(ctx, tx, v, memberIDs)
	if err != nil {
		return err
	}
	for k, id := range s {
		var membership any
		if ev, ok := members[id]; ok {
			if m, err := ev.Membership(); err == nil {
				membership = m
			}
		}
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO current_state (room_id, type, state_key, event_id, membership) VALUES (?, ?, ?, ?, ?)`,
			roomID, k.Type, k.StateKey, id, membership); err != nil {
			return fmt.Errorf("write current state: %w", err)
		}
	}
	return nil
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
	chain, rejected, err := authChain(ctx, q, v, keys(ids))
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
	seen := map[string]bool{}
	var chain []gomatrixserverlib.PDU
	rejected := map[string]bool{}
	frontier := ids
	for len(frontier) > 0 {
		targets, err := edgeTargets(ctx, q, "auth", frontier)
		if err != nil {
			return nil, nil, err
		}
		var next []string
		for _, id := range targets {
			if !seen[id] {
				seen[id] = true
				next = append(next, id)
			}
		}
		events, err := loadEvents(ctx, q, v, next)
		if err != nil {
			return nil, nil, err
		}
		for _, id := range next {
			if ev, ok := events[id]; ok {
				chain = append(chain, ev.PDU)
				rejected[id] = ev.Rejected
			}
		}
		frontier = next
	}
	return chain, rejected, nil
}

// edgeTargets returns the distinct prev or auth events of the given events.
func edgeTargets(ctx context.Context, q querier, kind string, ids []string) ([]string, error) {
	var out []string
	for chunk := range slices.Chunk(ids, maxSQLVars) {
		args := []any{kind}
		for _, id := range chunk {
			args = append(args, id)
		}
		rows, err := q.QueryContext(ctx,
			`SELECT DISTINCT target_id FROM event_edges WHERE kind = ? AND event_id IN (?`+strings.Repeat(",?", len(chunk)-1)+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("load %s edges: %w", kind, err)
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, fmt.Errorf("load %s edges: %w", kind, err)
			}
			out = append(out, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("load %s edges: %w", kind, err)
		}
	}
	return out, nil
}

// authEventsFromState picks, from a state, the events the auth rules need
// to judge ev, skipping rejected ones.
func authEventsFromState(ctx context.Context, q querier, v gomatrixserverlib.IRoomVersion, s stateMap, ev gomatrixserverlib.PDU) (*gomatrixserverlib.AuthEvents, error) {
	var ids []string
	for _, t := range gomatrixserverlib.StateNeededForAuth([]gomatrixserverlib.PDU{ev}).Tuples() {
		if id, ok := s[stateKey{t.EventType, t.StateKey}]; ok {
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

// joinedServers returns the servers with a joined member in a state.
func joinedServers(ctx context.Context, q querier, v gomatrixserverlib.IRoomVersion, s stateMap) (map[spec.ServerName]bool, error) {
	var ids []string
	for k, id := range s {
		if k.Type == spec.MRoomMember {
			ids = append(ids, id)
		}
	}
	events, err := loadEvents(ctx, q, v, ids)
	if err != nil {
		return nil, err
	}
	out := map[spec.ServerName]bool{}
	for _, ev := range events {
		if m, err := ev.Membership(); err != nil || m != spec.Join {
			continue
		}
		_, server, err := gomatrixserverlib.SplitID('@', *ev.StateKey())
		if err == nil {
			out[server] = true
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

var errNoSnapshot = errors.New("no state snapshot")
