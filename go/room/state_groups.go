package room

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
)

// A state group is a room state as stored: the state before or after events
// (events.state_before, events.state_after) and the room's current state
// (rooms.current_state_group) name groups. Many events share one group: a
// message event's state after is its state before.
//
// A group is stored as a delta against its prev group, so a state event adds
// O(1) rows instead of a copy of the room's state:
//
//   - an event group (event_pos set) is its prev group plus one state event,
//     named by its stream position: one row in state_groups, no entries;
//   - a delta group (prev_group set, event_pos NULL) lists in
//     state_group_entries the keys whose event differs from its prev group's,
//     an absent event (NULL) for a key it drops (state resolution may);
//   - a full snapshot (prev_group NULL) lists its whole state.
//
// Loading a group reads its chain back to a full snapshot. chain_rows counts
// the rows that reads; when a new group's chain would pass twice its state's
// size (plus a little, see chainTooLong), the group is written as a full
// snapshot instead. So lookups read O(state) rows, and a full snapshot of S
// keys is written only after about 2·S delta rows: O(1) rows per state event
// amortised. A room that only grows (joins) never needs one.
//
// Invariants, kept by insertEventGroup and insertStateGroup, the only writers:
// a group never changes once written; every chain ends at a full snapshot;
// an event group's event is a timeline event, whose stream_pos never changes
// (only outliers are ever replaced, and outliers have no state of their own).
type stateGroup struct {
	id   int64
	prev sql.NullInt64 // NULL: a full snapshot
	// size is the number of keys in the state; chainRows the rows loading it reads.
	size, chainRows int64
}

// chainTooLong reports whether a group whose load reads chainRows rows for
// a state of size keys should be a full snapshot instead. The constant keeps
// small rooms from snapshotting every few events.
func chainTooLong(chainRows, size int64) bool { return chainRows > 2*size+64 }

func readStateGroup(ctx context.Context, q querier, id int64) (stateGroup, error) {
	g := stateGroup{id: id}
	err := q.QueryRowContext(ctx, `SELECT prev_group, size, chain_rows FROM state_groups WHERE group_id = ?`, id).
		Scan(&g.prev, &g.size, &g.chainRows)
	if err != nil {
		return g, fmt.Errorf("read state group %d: %w", id, err)
	}
	return g, nil
}

// insertEventGroup stores the state after the state event ev, stored at pos,
// whose state before is group before; newKey says that state had no event
// for ev's (type, state_key).
func insertEventGroup(ctx context.Context, tx *sql.Tx, before int64, ev eventKeyed, pos StreamPos, newKey bool) (int64, error) {
	prev, err := readStateGroup(ctx, tx, before)
	if err != nil {
		return 0, err
	}
	size := prev.size
	if newKey {
		size++
	}
	if chainTooLong(prev.chainRows+1, size) {
		s, err := loadState(ctx, tx, before)
		if err != nil {
			return 0, err
		}
		s[keyOf(ev)] = ev.EventID()
		return insertStateGroup(ctx, tx, s, nil, nil)
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO state_groups (prev_group, event_pos, size, chain_rows) VALUES (?, ?, ?, ?)`,
		before, int64(pos), size, prev.chainRows+1)
	if err != nil {
		return 0, fmt.Errorf("insert state group: %w", err)
	}
	return res.LastInsertId()
}

// insertStateGroup stores the state s: as a delta against group base (whose
// state is baseState) when base is not nil and the chain stays short, else
// as a full snapshot.
func insertStateGroup(ctx context.Context, tx *sql.Tx, s stateMap, base *stateGroup, baseState stateMap) (int64, error) {
	entries := s
	var prev any // NULL: a full snapshot
	chainRows := int64(len(s))
	if base != nil {
		delta := stateDelta(baseState, s)
		if rows := base.chainRows + int64(len(delta)); !chainTooLong(rows, int64(len(s))) {
			entries, prev, chainRows = delta, base.id, rows
		}
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO state_groups (prev_group, size, chain_rows) VALUES (?, ?, ?)`,
		prev, len(s), chainRows)
	if err != nil {
		return 0, fmt.Errorf("insert state group: %w", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, fmt.Errorf("insert state group: %w", err)
	}
	for _, k := range sortedKeys(entries) {
		var eventID any // NULL: dropped
		if e := entries[k]; e != "" {
			eventID = e
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO state_group_entries (group_id, type, state_key, event_id) VALUES (?, ?, ?, ?)`,
			id, k.Type, k.StateKey, eventID); err != nil {
			return 0, fmt.Errorf("insert state group entry: %w", err)
		}
	}
	return id, nil
}

// stateDelta returns what turns from into to: the keys whose event differs,
// "" for a key to drops.
func stateDelta(from, to stateMap) stateMap {
	delta := stateMap{}
	for k, id := range to {
		if from[k] != id {
			delta[k] = id
		}
	}
	for k := range from {
		if _, ok := to[k]; !ok {
			delta[k] = ""
		}
	}
	return delta
}

// chainQuery lists a group's chain back to its full snapshot, newest first
// (hop 0 is the group itself), with the delta rows each group holds.
const chainQuery = `
WITH RECURSIVE chain (group_id, hop) AS (
	SELECT ?, 0
	UNION ALL
	SELECT g.prev_group, chain.hop + 1 FROM state_groups g JOIN chain ON g.group_id = chain.group_id
	WHERE g.prev_group IS NOT NULL AND chain.hop < ?
)
SELECT chain.hop, e.type, e.state_key, e.event_id
FROM chain JOIN state_groups g ON g.group_id = chain.group_id JOIN events e ON e.stream_pos = g.event_pos
UNION ALL
SELECT chain.hop, x.type, x.state_key, x.event_id
FROM chain JOIN state_group_entries x ON x.group_id = chain.group_id
ORDER BY 1 DESC`

// loadState reads a group's whole state.
func loadState(ctx context.Context, q querier, id int64) (stateMap, error) {
	s := stateMap{}
	err := foldChain(ctx, q, id, -1, func(k stateKey, eventID string) {
		if eventID == "" {
			delete(s, k)
		} else {
			s[k] = eventID
		}
	})
	if err != nil {
		return nil, fmt.Errorf("load state group %d: %w", id, err)
	}
	return s, nil
}

// foldChain calls apply with the rows of a group's chain, oldest first, so
// a later row overrides an earlier one; eventID "" removes a key. With
// maxHops ≥ 0 only that many groups back from id are read (0: id alone).
func foldChain(ctx context.Context, q querier, id int64, maxHops int, apply func(k stateKey, eventID string)) error {
	limit := int64(maxHops)
	if maxHops < 0 {
		limit = 1 << 62
	}
	rows, err := q.QueryContext(ctx, chainQuery, id, limit)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var hop int64
		var k stateKey
		var eventID sql.NullString
		if err := rows.Scan(&hop, &k.Type, &k.StateKey, &eventID); err != nil {
			return err
		}
		apply(k, eventID.String)
	}
	return rows.Err()
}

// maxDiffHops bounds how far back groupChanges looks for the old group
// before comparing whole states.
const maxDiffHops = 16

// groupChanges returns what changes from group from to group to ("" for a
// dropped key) when from is one of to's last maxDiffHops ancestors, reading
// only the deltas in between; ok is false otherwise.
func groupChanges(ctx context.Context, q querier, from, to int64) (changes stateMap, ok bool, err error) {
	hops := -1
	id := to
	for i := 0; i <= maxDiffHops; i++ {
		if id == from {
			hops = i
			break
		}
		g, err := readStateGroup(ctx, q, id)
		if err != nil {
			return nil, false, err
		}
		if !g.prev.Valid {
			return nil, false, nil
		}
		id = g.prev.Int64
	}
	if hops < 0 {
		return nil, false, nil
	}
	changes = stateMap{}
	if hops == 0 {
		return changes, true, nil
	}
	// The deltas of the hops groups from to back, excluding from itself.
	err = foldChain(ctx, q, to, hops-1, func(k stateKey, eventID string) { changes[k] = eventID })
	if err != nil {
		return nil, false, fmt.Errorf("load state deltas: %w", err)
	}
	return changes, true, nil
}

// eventKeyed is a state event.
type eventKeyed interface {
	EventID() string
	Type() string
	StateKey() *string
}

func keyOf(ev eventKeyed) stateKey { return stateKey{ev.Type(), *ev.StateKey()} }

func sortedKeys(s stateMap) []stateKey {
	out := keys(s)
	slices.SortFunc(out, func(a, b stateKey) int {
		return cmp.Or(cmp.Compare(a.Type, b.Type), cmp.Compare(a.StateKey, b.StateKey))
	})
	return out
}

// stateKey is a (type, state_key) pair.
type stateKey struct{ Type, StateKey string }

// stateMap is a room state: the event ID of each (type, state_key).
type stateMap map[stateKey]string
