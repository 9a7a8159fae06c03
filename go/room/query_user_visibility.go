package room

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"
)

// History visibility for local users (client-server API v1.11, "History
// visibility"), judged on the state after each event:
//
//   - world_readable and shared: visible (shared: to anyone who is or was a
//     member, which readAccess has already checked);
//   - invited: visible if the user was invited or joined;
//   - joined: visible if the user was joined.
//
// And a user who left reads nothing past their leave; one who was banned, or
// who left and forgot the room, reads nothing of it (as Synapse, whose
// reading the conformance suites encode: departed users, not banned ones).
// Except in a room that is world_readable now: anyone may read it without
// joining (peek, preview), and sees what was sent while it was
// world_readable, besides what their membership shows them.

// readAccess is how far a user may read a room.
type readAccess struct {
	// upTo is the newest stream position the user may read: the position of
	// their leave, or math.MaxInt64 while they are joined (or the room is
	// world_readable).
	upTo StreamPos
	// worldReadableAfter: past it, the user sees only what was sent while
	// the room was world_readable (they are not a member there): 0 for one
	// who never joined, their leave for one who left, math.MaxInt64 for a
	// member.
	worldReadableAfter StreamPos
}

// readAccessOf returns how far user may read a room: all of it while joined,
// up to their leave after it, unless they forgot the room; all that was
// world_readable in a room that is world_readable now. ErrForbidden
// otherwise, also for a room this server does not know, so that a room's
// existence is not leaked.
func readAccessOf(ctx context.Context, q querier, roomID string, user spec.UserID) (readAccess, error) {
	var m sql.NullString
	var pos int64
	var forgotten bool
	err := q.QueryRowContext(ctx,
		`SELECT s.membership, e.stream_pos,
		        EXISTS (SELECT 1 FROM forgotten_rooms f WHERE f.user_id = s.state_key AND f.room_id = s.room_id)
		 FROM current_state s JOIN events e ON e.event_id = s.event_id
		 WHERE s.room_id = ? AND s.type = 'm.room.member' AND s.state_key = ?`, roomID, user.String()).Scan(&m, &pos, &forgotten)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return readAccess{}, fmt.Errorf("look up membership: %w", err)
	}
	if m.String == spec.Join {
		return readAccess{upTo: math.MaxInt64, worldReadableAfter: math.MaxInt64}, nil
	}
	var member StreamPos // how far membership alone lets the user read
	if m.String == spec.Leave && !forgotten {
		member = StreamPos(pos)
	}
	open, err := worldReadableNow(ctx, q, roomID)
	switch {
	case err != nil:
		return readAccess{}, err
	case open:
		return readAccess{upTo: math.MaxInt64, worldReadableAfter: member}, nil
	case member > 0:
		return readAccess{upTo: member, worldReadableAfter: member}, nil
	}
	return readAccess{}, fmt.Errorf("%w: %s is not a member of %s", ErrForbidden, user.String(), roomID)
}

// WorldReadable reports whether a room's history_visibility is
// world_readable now: anyone may read it without joining.
func (r *Queryer) WorldReadable(ctx context.Context, roomID string) (bool, error) {
	return worldReadableNow(ctx, reader{r.db}, roomID)
}

// worldReadableNow reports whether a room's current history_visibility is
// world_readable.
func worldReadableNow(ctx context.Context, q querier, roomID string) (bool, error) {
	var vis sql.NullString
	err := q.QueryRowContext(ctx,
		`SELECT json_extract(e.json, '$.content.history_visibility') FROM current_state s JOIN events e ON e.event_id = s.event_id
		 WHERE s.room_id = ? AND s.type = 'm.room.history_visibility' AND s.state_key = ''`, roomID).Scan(&vis)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return false, fmt.Errorf("look up history visibility of %s: %w", roomID, err)
	}
	return vis.String == visibilityWorldReadable, nil
}

// joined reports whether the user reads the room as it is now: a member, or
// anyone in a world_readable room.
func (a readAccess) joined() bool { return a.upTo == math.MaxInt64 }

// visibleToUser keeps, in order, the events of a room that user may see.
// Events whose state this server never computed (backfilled, outliers) are
// judged by the room's current visibility alone.
func (r *Queryer) visibleToUser(ctx context.Context, roomID string, user spec.UserID, access readAccess, evs []Event) ([]Event, error) {
	if len(evs) == 0 {
		return evs, nil
	}
	q := reader{r.db}
	v, err := r.committedRoomVersion(ctx, roomID)
	if err != nil {
		return nil, err
	}
	groups, err := statesAfter(ctx, q, evs)
	if err != nil {
		return nil, err
	}
	type seen struct {
		group     int64
		worldOnly bool
	}
	byGroup := map[seen]bool{}
	out := evs[:0:0]
	for _, ev := range evs {
		if ev.Pos > access.upTo {
			continue
		}
		worldOnly := ev.Pos > access.worldReadableAfter
		group := groups[ev.EventID()]
		if !group.Valid {
			if group, err = storedCurrentGroup(ctx, q, roomID); err != nil {
				return nil, err
			}
			if !group.Valid {
				continue // a room with no state yet shows nothing
			}
		}
		key := seen{group.Int64, worldOnly}
		visible, known := byGroup[key]
		if !known {
			if visible, err = r.userSeesGroup(ctx, q, v, group.Int64, user, worldOnly); err != nil {
				return nil, err
			}
			byGroup[key] = visible
		}
		if visible {
			out = append(out, ev)
		}
	}
	return out, nil
}

// userSeesGroup applies the rules above to the state of one group; with
// worldOnly (the user reads as a non-member), only world_readable is visible.
func (r *core) userSeesGroup(ctx context.Context, q querier, v gomatrixserverlib.IRoomVersion, group int64, user spec.UserID, worldOnly bool) (bool, error) {
	s, err := loadState(ctx, q, group)
	if err != nil {
		return false, err
	}
	visibilityID := s[stateKey{spec.MRoomHistoryVisibility, ""}]
	memberID := s[stateKey{spec.MRoomMember, user.String()}]
	events, err := r.loadEvents(ctx, q, v, []string{visibilityID, memberID})
	if err != nil {
		return false, err
	}
	vis := visibilityIn(events, visibilityID)
	if worldOnly {
		return vis == visibilityWorldReadable, nil
	}
	if openToAll(vis) {
		return true, nil
	}
	ev, ok := events[memberID]
	if !ok {
		return false, nil
	}
	m, err := ev.Membership()
	if err != nil {
		return false, nil
	}
	return memberSees(m, vis), nil
}

// statesAfter returns the state group after each event, by event ID
// (invalid where this server never computed it).
func statesAfter(ctx context.Context, q querier, evs []Event) (map[string]sql.NullInt64, error) {
	out := make(map[string]sql.NullInt64, len(evs))
	for chunk := range slices.Chunk(evs, maxSQLVars) {
		args := make([]any, len(chunk))
		for i, ev := range chunk {
			args[i] = ev.EventID()
		}
		rows, err := q.QueryContext(ctx,
			`SELECT event_id, state_after FROM events WHERE event_id IN (?`+strings.Repeat(",?", len(chunk)-1)+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("load states after events: %w", err)
		}
		for rows.Next() {
			var id string
			var group sql.NullInt64
			if err := rows.Scan(&id, &group); err != nil {
				rows.Close()
				return nil, fmt.Errorf("load states after events: %w", err)
			}
			out[id] = group
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("load states after events: %w", err)
		}
	}
	return out, nil
}
