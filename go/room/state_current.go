package room

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"
)

// The current_state table mirrors the state group rooms.current_state_group
// of every room this server is in, one row per key with the membership of
// member events, so that reads by key or membership are index lookups.
// setCurrentState is its only writer for such rooms, and writes only the
// keys that changed. (For a room this server is not in, it holds the local
// users' memberships alone: StoreRemoteMembership.)

// currentGroup returns the group of a room's current state, making one from
// the current_state table for rooms from before state was stored by group.
func currentGroup(ctx context.Context, tx *sql.Tx, roomID string) (int64, error) {
	id, err := storedCurrentGroup(ctx, tx, roomID)
	if err != nil || id.Valid {
		return id.Int64, err
	}
	s, err := currentStateRows(ctx, tx, roomID)
	if err != nil {
		return 0, err
	}
	group, err := insertStateGroup(ctx, tx, s, nil, nil)
	if err != nil {
		return 0, err
	}
	return group, setCurrentGroup(ctx, tx, roomID, group)
}

// storedCurrentGroup returns the group of a room's current state as stored:
// NULL for a room without one yet.
func storedCurrentGroup(ctx context.Context, q querier, roomID string) (sql.NullInt64, error) {
	var id sql.NullInt64
	if err := q.QueryRowContext(ctx, `SELECT current_state_group FROM rooms WHERE room_id = ?`, roomID).Scan(&id); err != nil {
		return id, fmt.Errorf("load current state group of %s: %w", roomID, err)
	}
	return id, nil
}

// setCurrentGroup records group as the room's current state; the caller
// brings current_state to match.
func setCurrentGroup(ctx context.Context, tx *sql.Tx, roomID string, group int64) error {
	if _, err := tx.ExecContext(ctx, `UPDATE rooms SET current_state_group = ? WHERE room_id = ?`, group, roomID); err != nil {
		return fmt.Errorf("set current state group: %w", err)
	}
	return nil
}

// currentStateRows reads a room's current_state table.
func currentStateRows(ctx context.Context, q querier, roomID string) (stateMap, error) {
	rows, err := q.QueryContext(ctx, `SELECT type, state_key, event_id FROM current_state WHERE room_id = ?`, roomID)
	if err != nil {
		return nil, fmt.Errorf("load current state of %s: %w", roomID, err)
	}
	defer rows.Close()
	s := stateMap{}
	for rows.Next() {
		var k stateKey
		var eventID string
		if err := rows.Scan(&k.Type, &k.StateKey, &eventID); err != nil {
			return nil, fmt.Errorf("load current state of %s: %w", roomID, err)
		}
		s[k] = eventID
	}
	return s, rows.Err()
}

// currentEntry returns the event of one key of a room's current state and,
// for a member event, its membership ("" when the key is not set).
func currentEntry(ctx context.Context, q querier, roomID string, k stateKey) (eventID, membership string, err error) {
	var m sql.NullString
	err = q.QueryRowContext(ctx, `SELECT event_id, membership FROM current_state WHERE room_id = ? AND type = ? AND state_key = ?`,
		roomID, k.Type, k.StateKey).Scan(&eventID, &m)
	if err == sql.ErrNoRows {
		return "", "", nil
	}
	if err != nil {
		return "", "", fmt.Errorf("load current state %s %q: %w", k.Type, k.StateKey, err)
	}
	return eventID, m.String, nil
}

// setCurrentState makes group to the room's current state in place of group
// from (0: none), rewriting only the current_state rows that change. Reading
// the change costs the deltas between the two groups when from is a recent
// ancestor of to (the usual case: one new event), else two whole states.
func (r *core) setCurrentState(ctx context.Context, tx *sql.Tx, v gomatrixserverlib.IRoomVersion, roomID string, from, to int64) error {
	if err := setCurrentGroup(ctx, tx, roomID, to); err != nil {
		return err
	}
	var changes stateMap
	ok := false
	if from != 0 {
		var err error
		if changes, ok, err = groupChanges(ctx, tx, from, to); err != nil {
			return err
		}
	}
	if !ok {
		target, err := loadState(ctx, tx, to)
		if err != nil {
			return err
		}
		rows, err := currentStateRows(ctx, tx, roomID)
		if err != nil {
			return err
		}
		changes = stateDelta(rows, target)
	}
	return r.writeCurrentState(ctx, tx, v, roomID, changes)
}

// writeCurrentState applies changes ("" removes a key) to current_state.
func (r *core) writeCurrentState(ctx context.Context, tx *sql.Tx, v gomatrixserverlib.IRoomVersion, roomID string, changes stateMap) error {
	var memberIDs []string
	for k, id := range changes {
		if k.Type == spec.MRoomMember && id != "" {
			memberIDs = append(memberIDs, id)
		}
	}
	members, err := r.loadEvents(ctx, tx, v, memberIDs)
	if err != nil {
		return err
	}
	for _, k := range sortedKeys(changes) {
		id := changes[k]
		if id == "" {
			if _, err := tx.ExecContext(ctx, `DELETE FROM current_state WHERE room_id = ? AND type = ? AND state_key = ?`,
				roomID, k.Type, k.StateKey); err != nil {
				return fmt.Errorf("write current state: %w", err)
			}
			continue
		}
		var membership any
		if ev, ok := members[id]; ok {
			if m, err := ev.Membership(); err == nil {
				membership = m
			}
		}
		if err := upsertCurrentState(ctx, tx, roomID, k, id, membership); err != nil {
			return err
		}
	}
	return nil
}

func upsertCurrentState(ctx context.Context, tx *sql.Tx, roomID string, k stateKey, eventID string, membership any) error {
	_, err := tx.ExecContext(ctx,
		`INSERT INTO current_state (room_id, type, state_key, event_id, membership) VALUES (?, ?, ?, ?, ?)
		 ON CONFLICT (room_id, type, state_key) DO UPDATE SET event_id = excluded.event_id, membership = excluded.membership`,
		roomID, k.Type, k.StateKey, eventID, membership)
	if err != nil {
		return fmt.Errorf("write current state: %w", err)
	}
	return nil
}

// updateCurrentState sets current state to the resolved state after the
// room's forward extremities. One extremity (the usual case) needs no
// resolution and changes current_state by the new event's delta alone. It
// returns the room's current state group (NULL: none).
func (r *core) updateCurrentState(ctx context.Context, tx *sql.Tx, v gomatrixserverlib.IRoomVersion, roomID string) (sql.NullInt64, error) {
	rows, err := tx.QueryContext(ctx,
		`SELECT DISTINCT e.state_after FROM room_extremities x JOIN events e ON e.event_id = x.event_id
		 WHERE x.room_id = ? AND e.state_after IS NOT NULL ORDER BY e.state_after`, roomID)
	var none sql.NullInt64
	if err != nil {
		return none, fmt.Errorf("load extremity states: %w", err)
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return none, fmt.Errorf("load extremity states: %w", err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return none, fmt.Errorf("load extremity states: %w", err)
	}
	current, err := storedCurrentGroup(ctx, tx, roomID)
	if err != nil || len(ids) == 0 {
		return current, err
	}
	target := ids[0]
	if len(ids) > 1 {
		if target, err = r.resolveGroups(ctx, tx, v, ids, current); err != nil {
			return none, err
		}
	}
	after := sql.NullInt64{Int64: target, Valid: true}
	if current.Valid && current.Int64 == target {
		return after, nil
	}
	return after, r.setCurrentState(ctx, tx, v, roomID, current.Int64, target)
}

// resolveGroups returns a group holding the resolution of the states of
// groups: one of them or the current one when the resolution equals it, else
// a new group stored as a delta against the current state.
func (r *core) resolveGroups(ctx context.Context, tx *sql.Tx, v gomatrixserverlib.IRoomVersion, groups []int64, current sql.NullInt64) (int64, error) {
	states := make([]stateMap, len(groups))
	for i, id := range groups {
		var err error
		if states[i], err = loadState(ctx, tx, id); err != nil {
			return 0, err
		}
	}
	resolved, err := r.resolve(ctx, tx, v, states)
	if err != nil {
		return 0, err
	}
	for i, s := range states {
		if sameState(s, resolved) {
			return groups[i], nil
		}
	}
	if !current.Valid {
		return insertStateGroup(ctx, tx, resolved, nil, nil)
	}
	base, err := readStateGroup(ctx, tx, current.Int64)
	if err != nil {
		return 0, err
	}
	cur, err := loadState(ctx, tx, current.Int64)
	if err != nil {
		return 0, err
	}
	if sameState(cur, resolved) {
		return current.Int64, nil
	}
	return insertStateGroup(ctx, tx, resolved, &base, cur)
}

func sameState(a, b stateMap) bool {
	if len(a) != len(b) {
		return false
	}
	for k, id := range a {
		if b[k] != id {
			return false
		}
	}
	return true
}

// stateEvent returns the current state event (type, stateKey) of a room.
func stateEvent(ctx context.Context, q querier, v gomatrixserverlib.IRoomVersion, roomID, evType, stateKey string) (gomatrixserverlib.PDU, error) {
	var id string
	var raw []byte
	// +? rather than ?: SQLite compares a bare parameter with the partial
	// index's type = 'm.room.member' (current_state_by_member), and then
	// compiles the statement again whenever that parameter is bound, as on
	// every call (in wasm ~40 µs each time, several times a send).
	err := q.QueryRowContext(ctx,
		`SELECT s.event_id, e.json FROM current_state s JOIN events e ON e.event_id = s.event_id
		 WHERE s.room_id = ? AND s.type = +? AND s.state_key = ?`, roomID, evType, stateKey).Scan(&id, &raw)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: %s %q in %s", ErrEventNotFound, evType, stateKey, roomID)
	}
	if err != nil {
		return nil, fmt.Errorf("load state %s %q: %w", evType, stateKey, err)
	}
	return loadEvent(v, id, raw)
}

// resident reports whether a local user is joined to the room: then this
// server holds its state and receives its events.
func (r *core) resident(ctx context.Context, q querier, roomID string) (bool, error) {
	var n int
	err := q.QueryRowContext(ctx,
		`SELECT COUNT(*) FROM current_state WHERE room_id = ? AND type = 'm.room.member' AND membership = 'join' AND state_key LIKE ?`,
		roomID, "%:"+string(r.identity.ServerName)).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("look up local members: %w", err)
	}
	return n > 0, nil
}
