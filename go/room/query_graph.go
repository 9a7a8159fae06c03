package room

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/matrix-org/gomatrixserverlib"
)

// Reading events and the event graph: what other servers ask for (event, state,
// state_ids, event_auth, backfill, get_missing_events) and where the gaps are.
// Package federation checks who asks; these only read.

// RoomVersion returns a room's version, or ErrRoomNotFound.
func (r *Queryer) RoomVersion(ctx context.Context, roomID string) (gomatrixserverlib.IRoomVersion, error) {
	return r.committedRoomVersion(ctx, roomID)
}

// Event returns a stored, accepted event of a room.
func (r *Queryer) Event(ctx context.Context, roomID, eventID string) (gomatrixserverlib.PDU, error) {
	v, err := r.committedRoomVersion(ctx, roomID)
	if err != nil {
		return nil, err
	}
	events, err := r.loadEvents(ctx, reader{r.db}, v, []string{eventID})
	if err != nil {
		return nil, err
	}
	ev, ok := events[eventID]
	if !ok || ev.Rejected || ev.RoomID().String() != roomID {
		return nil, fmt.Errorf("%w: %s", ErrEventNotFound, eventID)
	}
	return ev.PDU, nil
}

// RoomOfEvent finds which room a stored event is in (GET /event/{eventId}
// names no room).
func (r *Queryer) RoomOfEvent(ctx context.Context, eventID string) (string, error) {
	var roomID string
	err := r.db.QueryRow(ctx, `SELECT room_id FROM events WHERE event_id = ? AND rejected IS NULL`, eventID).Scan(&roomID)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("%w: %s", ErrEventNotFound, eventID)
	}
	if err != nil {
		return "", fmt.Errorf("look up event %s: %w", eventID, err)
	}
	return roomID, nil
}

// StateBefore returns the room state before an event and the auth chain of
// that state (state and state_ids, and the answer to send_join).
func (r *Queryer) StateBefore(ctx context.Context, roomID, eventID string) (state, chain []gomatrixserverlib.PDU, err error) {
	q := reader{r.db}
	v, err := r.committedRoomVersion(ctx, roomID)
	if err != nil {
		return nil, nil, err
	}
	events, err := r.loadEvents(ctx, q, v, []string{eventID})
	if err != nil {
		return nil, nil, err
	}
	ev, ok := events[eventID]
	if !ok || ev.Rejected || ev.RoomID().String() != roomID || !ev.StateBefore.Valid {
		return nil, nil, fmt.Errorf("%w: no state known at %s", ErrEventNotFound, eventID)
	}
	s, err := loadState(ctx, q, ev.StateBefore.Int64)
	if err != nil {
		return nil, nil, err
	}
	ids := slices.Collect(maps.Values(s))
	stateEvents, err := r.loadEvents(ctx, q, v, ids)
	if err != nil {
		return nil, nil, err
	}
	for _, id := range ids {
		if se, ok := stateEvents[id]; ok {
			state = append(state, se.PDU)
		}
	}
	chain, _, err = r.authChainOf(ctx, q, v, state)
	return state, chain, err
}

// AuthChain returns the full auth chain of events (event_auth).
func (r *Queryer) AuthChain(ctx context.Context, roomID string, eventIDs []string) ([]gomatrixserverlib.PDU, error) {
	v, err := r.committedRoomVersion(ctx, roomID)
	if err != nil {
		return nil, err
	}
	chain, _, err := r.authChain(ctx, reader{r.db}, v, eventIDs)
	return chain, err
}

// WalkBack returns up to limit accepted events reached by walking prev_events
// back from the events from, breadth first, never past the events in stop nor
// below minDepth. With includeFrom, the events from are part of the answer
// (backfill); without, only their ancestors are (get_missing_events).
func (r *Queryer) WalkBack(ctx context.Context, roomID string, from, stop []string, limit int, minDepth int64, includeFrom bool) ([]gomatrixserverlib.PDU, error) {
	q := reader{r.db}
	v, err := r.committedRoomVersion(ctx, roomID)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, id := range stop {
		seen[id] = true
	}
	var out []gomatrixserverlib.PDU
	frontier := from
	if !includeFrom {
		for _, id := range from {
			seen[id] = true
		}
		if frontier, err = r.prevEventsOf(ctx, q, v, from); err != nil {
			return nil, err
		}
	}
	for len(frontier) > 0 && len(out) < limit {
		var next []string
		for _, id := range frontier {
			if !seen[id] {
				seen[id] = true
				next = append(next, id)
			}
		}
		slices.Sort(next)
		events, err := r.loadEvents(ctx, q, v, next)
		if err != nil {
			return nil, err
		}
		frontier = nil
		for _, id := range next {
			ev, ok := events[id]
			if !ok || ev.Rejected || ev.RoomID().String() != roomID || ev.Depth() < minDepth || len(out) >= limit {
				continue
			}
			out = append(out, ev.PDU)
			frontier = append(frontier, ev.PrevEventIDs()...)
		}
	}
	return out, nil
}

// prevEventsOf returns the prev events of the stored events among ids.
func (r *core) prevEventsOf(ctx context.Context, q querier, v gomatrixserverlib.IRoomVersion, ids []string) ([]string, error) {
	events, err := r.loadEvents(ctx, q, v, ids)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, id := range ids {
		if ev, ok := events[id]; ok {
			out = append(out, ev.PrevEventIDs()...)
		}
	}
	return out, nil
}

// Extremities returns the room's forward extremities.
func (r *Queryer) Extremities(ctx context.Context, roomID string) ([]string, error) {
	ids, _, err := extremities(ctx, reader{r.db}, roomID)
	return ids, err
}

// extremities returns a room's forward extremities and the greatest depth among them.
func extremities(ctx context.Context, q querier, roomID string) ([]string, int64, error) {
	rows, err := q.QueryContext(ctx,
		`SELECT x.event_id, e.depth FROM room_extremities x JOIN events e ON e.event_id = x.event_id
		 WHERE x.room_id = ? ORDER BY x.event_id`, roomID)
	if err != nil {
		return nil, 0, fmt.Errorf("load extremities: %w", err)
	}
	defer rows.Close()
	ids := []string{}
	var maxDepth int64
	for rows.Next() {
		var id string
		var depth int64
		if err := rows.Scan(&id, &depth); err != nil {
			return nil, 0, fmt.Errorf("load extremities: %w", err)
		}
		ids = append(ids, id)
		maxDepth = max(maxDepth, depth)
	}
	return ids, maxDepth, rows.Err()
}

// UnknownEvents returns those of ids this server does not hold in the room's
// timeline (not at all, or only as outliers): what Receive would not call a
// Duplicate.
func (r *Queryer) UnknownEvents(ctx context.Context, roomID string, ids []string) ([]string, error) {
	v, err := r.committedRoomVersion(ctx, roomID)
	if err != nil {
		return nil, err
	}
	held, err := r.loadEvents(ctx, reader{r.db}, v, ids)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, id := range ids {
		if e, ok := held[id]; !ok || e.Outlier && !e.Rejected {
			out = append(out, id)
		}
	}
	return out, nil
}

// BackwardExtremities returns the prev events of the room's timeline that this
// server does not hold: where backfill continues from.
func (r *Queryer) BackwardExtremities(ctx context.Context, roomID string) ([]string, error) {
	rows, err := r.db.Query(ctx,
		`SELECT DISTINCT m.prev_id FROM missing_prev_events m JOIN events e ON e.stream_pos = m.event_pos
		 WHERE e.room_id = ? AND e.rejected IS NULL ORDER BY m.prev_id`, roomID)
	if err != nil {
		return nil, fmt.Errorf("load backward extremities: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("load backward extremities: %w", err)
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}
