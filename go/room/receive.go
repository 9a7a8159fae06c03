package room

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"
)

// Incoming is an event from another server, already checked for hash and
// signatures (package federation does that): Receive applies the room rules.
type Incoming struct {
	Event gomatrixserverlib.PDU
	// StateBefore, if not nil, is the state before Event as the resident
	// server reported it (send_join), used instead of Event's prev events.
	// Its events must be stored already (StoreOutliers).
	StateBefore []string
	// PrevStates gives, for prev events this server holds no state for, the
	// state after each as another server reported it (state_ids at the prev
	// event, plus the prev event itself if it is a state event). Stored already.
	PrevStates map[string][]string
	// Historical marks a backfilled event: older than the whole timeline,
	// stored without state, never changing current state or extremities.
	Historical bool
	// Live marks an event new to the room's timeline: pushed in a
	// transaction, or fetched to fill the gap before one (get_missing_events,
	// catch-up). It is also checked against current state, and hidden if that
	// refuses it ("soft failure"), so that a server unaware of a ban cannot
	// slip a banned user's message in, not even as the parent of another.
	// Backfill (Historical) skips it, as do a join's and an invite's own
	// events, judged by the state they come with.
	Live bool
	// Broadcast sends the event, once accepted, to the other servers in the
	// room: a join received through send_join, or this server's own invite
	// that the invitee's server countersigned.
	Broadcast bool
}

// Outcome is what Receive did with an event.
type Outcome int

const (
	Accepted   Outcome = iota + 1 // stored and part of the room
	Duplicate                     // already stored; nothing changed
	Rejected                      // stored as rejected: never shown, never used for auth
	SoftFailed                    // allowed by the state before it, not by current state: stored, hidden
)

// MissingEventsError says which events Receive needs first. Callers branch on
// its fields: fetch the auth events (event_auth), or the prev events
// (get_missing_events) or, failing that, the state after them (state_ids).
type MissingEventsError struct {
	EventID string
	Prev    []string
	Auth    []string
}

func (e *MissingEventsError) Error() string {
	return fmt.Sprintf("event %s: missing prev events %v, auth events %v", e.EventID, e.Prev, e.Auth)
}

// Receive adds an event from another server to its room, following the
// server-server API's "Checks performed on receipt of a PDU": the event must
// be allowed by its own auth events and by the state before it (resolved
// across its prev events with state resolution v2); otherwise it is stored as
// rejected. Current state becomes the resolution of the forward extremities.
// The room must exist (EnsureRoom).
func (r *Rooms) Receive(ctx context.Context, in Incoming) (Outcome, error) {
	ev := in.Event
	roomID := ev.RoomID().String()
	var outcome Outcome
	err := r.write(ctx, func(w *writeTx) error {
		v, err := roomVersion(ctx, w.tx, roomID)
		if err != nil {
			return err
		}
		if v.Version() != ev.Version() {
			return fmt.Errorf("%w: event of room version %s in a room of version %s", ErrBadEvent, ev.Version(), v.Version())
		}
		existing, err := loadEvents(ctx, w.tx, v, []string{ev.EventID()})
		if err != nil {
			return err
		}
		if e, ok := existing[ev.EventID()]; ok && (!e.Outlier || e.Rejected) {
			outcome = Duplicate
			return nil
		}
		outcome, err = r.receive(ctx, w, v, in)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("receive event %s: %w", ev.EventID(), err)
	}
	return outcome, nil
}

func (r *Rooms) receive(ctx context.Context, w *writeTx, v gomatrixserverlib.IRoomVersion, in Incoming) (Outcome, error) {
	ev := in.Event
	roomID := ev.RoomID().String()
	reject := func(before sql.NullInt64, reason string) (Outcome, error) {
		log.WithField("event_id", ev.EventID()).WithField("reason", reason).Warn("rejected event")
		_, err := insertEvent(ctx, w, eventRow{ev: ev, rejected: reason, before: before, after: before})
		return Rejected, err
	}

	// 1. Allowed by its own auth events, none of them rejected.
	authIDs := ev.AuthEventIDs()
	authStored, err := loadEvents(ctx, w.tx, v, authIDs)
	if err != nil {
		return 0, err
	}
	var missingAuth []string
	for _, id := range authIDs {
		a, ok := authStored[id]
		switch {
		case !ok:
			missingAuth = append(missingAuth, id)
		case a.Rejected:
			return reject(sql.NullInt64{}, "auth event "+id+" was rejected")
		case a.RoomID().String() != roomID:
			return reject(sql.NullInt64{}, "auth event "+id+" is in another room")
		}
	}
	if len(missingAuth) > 0 {
		return 0, &MissingEventsError{EventID: ev.EventID(), Auth: missingAuth}
	}
	if fault := authSelectionFault(ev, authStored); fault != "" {
		return reject(sql.NullInt64{}, fault)
	}
	authSet, err := authEventsByID(ctx, w.tx, v, authIDs)
	if err != nil {
		return 0, err
	}
	if err := gomatrixserverlib.Allowed(ev, authSet, userIDForSender); err != nil {
		return reject(sql.NullInt64{}, "not allowed by its auth events: "+err.Error())
	}
	if in.Historical {
		_, err := insertEvent(ctx, w, eventRow{ev: ev, historical: true})
		return Accepted, err
	}

	// 2. Allowed by the state before it.
	before, beforeID, err := r.stateBefore(ctx, w.tx, v, in)
	if err != nil {
		return 0, err
	}
	authSet, err = authEventsFromState(ctx, w.tx, v, before, ev)
	if err != nil {
		return 0, err
	}
	if !beforeID.Valid {
		id, err := newSnapshot(ctx, w.tx, roomID, before)
		if err != nil {
			return 0, err
		}
		beforeID = sql.NullInt64{Int64: id, Valid: true}
	}
	if err := gomatrixserverlib.Allowed(ev, authSet, userIDForSender); err != nil {
		return reject(beforeID, "not allowed by the state before it: "+err.Error())
	}
	afterID, err := stateAfter(ctx, w.tx, beforeID.Int64, ev)
	if err != nil {
		return 0, err
	}
	softFailed := false
	if in.Live {
		if softFailed, err = r.refusedByCurrentState(ctx, w.tx, v, ev); err != nil {
			return 0, err
		}
	}
	if _, err := insertEvent(ctx, w, eventRow{ev: ev, softFailed: softFailed,
		before: beforeID, after: sql.NullInt64{Int64: afterID, Valid: true}}); err != nil {
		return 0, err
	}
	if softFailed {
		log.WithField("event_id", ev.EventID()).Warn("soft-failed event: current state refuses it")
		return SoftFailed, nil
	}

	if ev.Type() == spec.MRoomRedaction {
		// Redactions from other servers take effect here as local ones do in send.
		if err := r.applyRedaction(ctx, w.tx, v, ev); err != nil {
			return 0, err
		}
	}

	// 3. Forward extremities and current state.
	for _, prev := range ev.PrevEventIDs() {
		if _, err := w.tx.ExecContext(ctx, `DELETE FROM room_extremities WHERE room_id = ? AND event_id = ?`, roomID, prev); err != nil {
			return 0, fmt.Errorf("update extremities: %w", err)
		}
	}
	var referenced bool
	if err := w.tx.QueryRowContext(ctx,
		`SELECT EXISTS (SELECT 1 FROM event_edges g JOIN events e ON e.event_id = g.event_id
		 WHERE g.kind = 'prev' AND g.target_id = ? AND e.outlier = 0 AND e.rejected IS NULL AND e.soft_failed = 0 AND e.stream_pos > 0)`,
		ev.EventID()).Scan(&referenced); err != nil {
		return 0, fmt.Errorf("look for successors: %w", err)
	}
	if !referenced {
		if _, err := w.tx.ExecContext(ctx, `INSERT OR IGNORE INTO room_extremities (room_id, event_id) VALUES (?, ?)`, roomID, ev.EventID()); err != nil {
			return 0, fmt.Errorf("update extremities: %w", err)
		}
	}
	if err := r.updateCurrentState(ctx, w.tx, v, roomID); err != nil {
		return 0, err
	}
	if in.Broadcast {
		if err := r.federate(ctx, w, v, ev, beforeID.Int64, afterID); err != nil {
			return 0, err
		}
	}
	return Accepted, nil
}

// refusedByCurrentState reports whether the auth rules refuse ev against the
// room's current state.
func (r *Rooms) refusedByCurrentState(ctx context.Context, tx *sql.Tx, v gomatrixserverlib.IRoomVersion, ev gomatrixserverlib.PDU) (bool, error) {
	current, err := currentSnapshot(ctx, tx, ev.RoomID().String())
	if err != nil {
		return false, err
	}
	s, err := loadSnapshot(ctx, tx, current)
	if err != nil {
		return false, err
	}
	auth, err := authEventsFromState(ctx, tx, v, s, ev)
	if err != nil {
		return false, err
	}
	return gomatrixserverlib.Allowed(ev, auth, userIDForSender) != nil, nil
}

// stateBefore works out the state before an incoming event. The snapshot ID
// is valid when an existing snapshot can be reused.
func (r *Rooms) stateBefore(ctx context.Context, q querier, v gomatrixserverlib.IRoomVersion, in Incoming) (stateMap, sql.NullInt64, error) {
	ev := in.Event
	if in.StateBefore != nil {
		s, err := stateFromIDs(ctx, q, v, ev.RoomID().String(), in.StateBefore)
		return s, sql.NullInt64{}, err
	}
	prevIDs := ev.PrevEventIDs()
	if len(prevIDs) == 0 && ev.Type() == spec.MRoomCreate && ev.StateKeyEquals("") {
		return stateMap{}, sql.NullInt64{}, nil // the room's first event: nothing before it
	}
	prevs, err := loadEvents(ctx, q, v, prevIDs)
	if err != nil {
		return nil, sql.NullInt64{}, err
	}
	var states []stateMap
	var snapshotIDs []int64
	var missing []string
	for _, id := range prevIDs {
		if ids, ok := in.PrevStates[id]; ok {
			s, err := stateFromIDs(ctx, q, v, ev.RoomID().String(), ids)
			if err != nil {
				return nil, sql.NullInt64{}, err
			}
			states = append(states, s)
			continue
		}
		p, ok := prevs[id]
		if !ok || !p.StateAfter.Valid {
			missing = append(missing, id)
			continue
		}
		s, err := loadSnapshot(ctx, q, p.StateAfter.Int64)
		if err != nil {
			return nil, sql.NullInt64{}, err
		}
		states = append(states, s)
		snapshotIDs = append(snapshotIDs, p.StateAfter.Int64)
	}
	if len(missing) > 0 {
		return nil, sql.NullInt64{}, &MissingEventsError{EventID: ev.EventID(), Prev: missing}
	}
	if len(states) == 0 {
		return nil, sql.NullInt64{}, fmt.Errorf("%w: %s has no prev events", ErrBadEvent, ev.EventID())
	}
	if len(snapshotIDs) == len(states) && allEqual(snapshotIDs) {
		return states[0], sql.NullInt64{Int64: snapshotIDs[0], Valid: true}, nil
	}
	s, err := resolve(ctx, q, v, states)
	return s, sql.NullInt64{}, err
}

// stateFromIDs turns a list of state event IDs into a state map; rejected
// events and events of other rooms are left out.
func stateFromIDs(ctx context.Context, q querier, v gomatrixserverlib.IRoomVersion, roomID string, ids []string) (stateMap, error) {
	events, err := loadEvents(ctx, q, v, ids)
	if err != nil {
		return nil, err
	}
	s := stateMap{}
	for _, id := range ids {
		ev, ok := events[id]
		if !ok {
			return nil, &MissingEventsError{Auth: []string{id}}
		}
		if ev.Rejected || ev.StateKey() == nil || ev.RoomID().String() != roomID {
			continue
		}
		s[stateKey{ev.Type(), *ev.StateKey()}] = id
	}
	return s, nil
}

// updateCurrentState sets current state to the resolved state after the
// room's forward extremities.
func (r *Rooms) updateCurrentState(ctx context.Context, tx *sql.Tx, v gomatrixserverlib.IRoomVersion, roomID string) error {
	rows, err := tx.QueryContext(ctx,
		`SELECT DISTINCT e.state_after FROM room_extremities x JOIN events e ON e.event_id = x.event_id
		 WHERE x.room_id = ? AND e.state_after IS NOT NULL ORDER BY e.state_after`, roomID)
	if err != nil {
		return fmt.Errorf("load extremity states: %w", err)
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return fmt.Errorf("load extremity states: %w", err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("load extremity states: %w", err)
	}
	if len(ids) == 0 {
		return nil
	}
	var current sql.NullInt64
	if err := tx.QueryRowContext(ctx, `SELECT current_snapshot FROM rooms WHERE room_id = ?`, roomID).Scan(&current); err != nil {
		return fmt.Errorf("load current snapshot: %w", err)
	}
	target := ids[0]
	if len(ids) > 1 {
		states := make([]stateMap, len(ids))
		for i, id := range ids {
			if states[i], err = loadSnapshot(ctx, tx, id); err != nil {
				return err
			}
		}
		resolved, err := resolve(ctx, tx, v, states)
		if err != nil {
			return err
		}
		if current.Valid {
			cur, err := loadSnapshot(ctx, tx, current.Int64)
			if err != nil {
				return err
			}
			if sameState(cur, resolved) {
				return nil
			}
		}
		if target, err = newSnapshot(ctx, tx, roomID, resolved); err != nil {
			return err
		}
	}
	if current.Valid && current.Int64 == target {
		return nil
	}
	return setCurrentState(ctx, tx, v, roomID, target)
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

func allEqual(ids []int64) bool {
	for _, id := range ids[1:] {
		if id != ids[0] {
			return false
		}
	}
	return true
}
