package room

import (
	"context"
	"database/sql"
)

// stateAt is the state before an event being received: a stored group, a
// map not stored yet, or both. Most events follow the room's newest event, so
// their state before is the current state, and the few keys the auth rules
// need are read from current_state without loading the group.
type stateAt struct {
	roomID string
	group  int64    // 0: not stored yet; m holds the state
	m      stateMap // nil: not loaded
	// current says group is the room's current state group, which
	// current_state mirrors.
	current bool
	// base, when group is 0, is the group m is best stored as a delta
	// against (one of the event's prev states), with its state; nil: none.
	base      *stateGroup
	baseState stateMap
}

// get returns the event of key k in the state, "" if none.
func (s *stateAt) get(ctx context.Context, q querier, k stateKey) (string, error) {
	if s.m == nil && s.current {
		id, _, err := currentEntry(ctx, q, s.roomID, k)
		return id, err
	}
	if s.m == nil {
		m, err := loadState(ctx, q, s.group)
		if err != nil {
			return "", err
		}
		s.m = m
	}
	return s.m[k], nil
}

// store writes the state as a group if it is not one yet, and returns it.
func (s *stateAt) store(ctx context.Context, tx *sql.Tx) (int64, error) {
	if s.group == 0 {
		id, err := insertStateGroup(ctx, tx, s.m, s.base, s.baseState)
		if err != nil {
			return 0, err
		}
		s.group = id
	}
	return s.group, nil
}
