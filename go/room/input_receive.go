package room

import (
	"context"
	"database/sql"
	"fmt"
	"slices"

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
func (r *Inputer) Receive(ctx context.Context, in Incoming) (Outcome, error) {
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
		existing, err := r.loadEvents(ctx, w.tx, v, []string{ev.EventID()})
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

func (r *Inputer) receive(ctx context.Context, w *writeTx, v gomatrixserverlib.IRoomVersion, in Incoming) (Outcome, error) {
	ev := in.Event
	roomID := ev.RoomID().String()
	reject := func(before sql.NullInt64, reason string) (Outcome, error) {
		log.WithField("event_id", ev.EventID()).WithField("reason", reason).Warn("rejected event")
		_, err := r.insertEvent(ctx, w, eventRow{ev: ev, rejected: reason, before: before})
		return Rejected, err
	}

	// 1. Allowed by its own auth events, none of them rejected.
	authIDs := ev.AuthEventIDs()
	authStored, err := r.loadEvents(ctx, w.tx, v, authIDs)
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
	authSet, err := r.authEventsByID(ctx, w.tx, v, authIDs)
	if err != nil {
		return 0, err
	}
	if err := gomatrixserverlib.Allowed(ev, authSet, userIDForSender); err != nil {
		return reject(sql.NullInt64{}, "not allowed by its auth events: "+err.Error())
	}
	if in.Historical {
		_, err := r.insertEvent(ctx, w, eventRow{ev: ev, historical: true})
		return Accepted, err
	}

	// 2. Allowed by the state before it.
	before, err := r.stateBefore(ctx, w.tx, v, in)
	if err != nil {
		return 0, err
	}
	authSet, err = r.authEventsAt(ctx, w.tx, v, before, ev)
	if err != nil {
		return 0, err
	}
	beforeID, err := before.store(ctx, w.tx)
	if err != nil {
		return 0, err
	}
	beforeGroup := sql.NullInt64{Int64: beforeID, Valid: true}
	if err := gomatrixserverlib.Allowed(ev, authSet, userIDForSender); err != nil {
		return reject(beforeGroup, "not allowed by the state before it: "+err.Error())
	}
	var replaced string
	if ev.StateKey() != nil {
		if replaced, err = before.get(ctx, w.tx, keyOf(ev)); err != nil {
			return 0, err
		}
	}
	softFailed := false
	if in.Live {
		if softFailed, err = r.refusedByCurrentState(ctx, w.tx, v, ev); err != nil {
			return 0, err
		}
	}
	var membershipBefore string
	if in.Broadcast && ev.Type() == spec.MRoomMember && replaced != "" {
		if membershipBefore, err = r.membershipOfEvent(ctx, w.tx, v, replaced); err != nil {
			return 0, err
		}
	}
	inserted, err := r.insertEvent(ctx, w, eventRow{ev: ev, softFailed: softFailed, before: beforeGroup, newKey: replaced == ""})
	if err != nil {
		return 0, err
	}
	if softFailed {
		log.WithField("event_id", ev.EventID()).Warn("soft-failed event: current state refuses it")
		return SoftFailed, nil
	}

	if ev.Type() == spec.MRoomRedaction {
		// Redactions from other servers take effect here as local ones do in send.
		if err := r.applyRedaction(ctx, w, v, ev); err != nil {
			return 0, err
		}
	}

	// 3. Forward extremities and current state.
	for _, prev := range ev.PrevEventIDs() {
		if _, err := w.tx.ExecContext(ctx, `DELETE FROM room_extremities WHERE room_id = ? AND event_id = ?`, roomID, prev); err != nil {
			return 0, fmt.Errorf("update extremities: %w", err)
		}
	}
	if !inserted.hadChildren {
		if _, err := w.tx.ExecContext(ctx, `INSERT OR IGNORE INTO room_extremities (room_id, event_id) VALUES (?, ?)`, roomID, ev.EventID()); err != nil {
			return 0, fmt.Errorf("update extremities: %w", err)
		}
	}
	current, err := r.updateCurrentState(ctx, w.tx, v, roomID)
	if err != nil {
		return 0, err
	}
	var joined []Member
	if inserted.after.Valid && current == inserted.after {
		// The room's state is the state after ev (no fork): the members
		// follow from those before it.
		joined, err = r.joinedMembersAfter(ctx, w, ev, beforeID, current)
	} else {
		joined, err = r.joinedMembersAt(ctx, w, roomID, current)
	}
	if err != nil {
		return 0, err
	}
	if err := r.announce(ctx, w, ev, inserted.pos, joined); err != nil {
		return 0, err
	}
	if in.Broadcast {
		if err := r.federate(ctx, w, ev, membershipBefore, joined); err != nil {
			return 0, err
		}
	}
	return Accepted, nil
}

// membershipOfEvent returns the membership a stored member event sets.
func (r *core) membershipOfEvent(ctx context.Context, q querier, v gomatrixserverlib.IRoomVersion, eventID string) (string, error) {
	events, err := r.loadEvents(ctx, q, v, []string{eventID})
	if err != nil {
		return "", err
	}
	ev, ok := events[eventID]
	if !ok {
		return "", nil
	}
	m, err := ev.Membership()
	if err != nil {
		return "", nil // not a valid member event: no membership
	}
	return m, nil
}

// refusedByCurrentState reports whether the auth rules refuse ev against the
// room's current state.
func (r *Inputer) refusedByCurrentState(ctx context.Context, tx *sql.Tx, v gomatrixserverlib.IRoomVersion, ev gomatrixserverlib.PDU) (bool, error) {
	roomID := ev.RoomID().String()
	current, err := currentGroup(ctx, tx, roomID)
	if err != nil {
		return false, err
	}
	auth, err := r.authEventsAt(ctx, tx, v, &stateAt{roomID: roomID, group: current, current: true}, ev)
	if err != nil {
		return false, err
	}
	return gomatrixserverlib.Allowed(ev, auth, userIDForSender) != nil, nil
}

// stateBefore works out the state before an incoming event: the state after
// its prev event when it has one (usually the current state: nothing is
// loaded), else the resolution of the states after its prev events, or the
// state another server reported.
func (r *Inputer) stateBefore(ctx context.Context, tx *sql.Tx, v gomatrixserverlib.IRoomVersion, in Incoming) (*stateAt, error) {
	ev := in.Event
	roomID := ev.RoomID().String()
	if in.StateBefore != nil {
		s, err := r.stateFromIDs(ctx, tx, v, roomID, in.StateBefore)
		return &stateAt{roomID: roomID, m: s}, err
	}
	prevIDs := ev.PrevEventIDs()
	if len(prevIDs) == 0 && ev.Type() == spec.MRoomCreate && ev.StateKeyEquals("") {
		return &stateAt{roomID: roomID, m: stateMap{}}, nil // the room's first event: nothing before it
	}
	prevs, err := r.loadEvents(ctx, tx, v, prevIDs)
	if err != nil {
		return nil, err
	}
	var reported []stateMap
	var groups []int64
	var missing []string
	for _, id := range prevIDs {
		if ids, ok := in.PrevStates[id]; ok {
			s, err := r.stateFromIDs(ctx, tx, v, roomID, ids)
			if err != nil {
				return nil, err
			}
			reported = append(reported, s)
			continue
		}
		p, ok := prevs[id]
		if !ok || !p.StateAfter.Valid {
			missing = append(missing, id)
			continue
		}
		if !slices.Contains(groups, p.StateAfter.Int64) {
			groups = append(groups, p.StateAfter.Int64)
		}
	}
	if len(missing) > 0 {
		return nil, &MissingEventsError{EventID: ev.EventID(), Prev: missing}
	}
	if len(reported) == 0 && len(groups) == 0 {
		return nil, fmt.Errorf("%w: %s has no prev events", ErrBadEvent, ev.EventID())
	}
	if len(reported) == 0 && len(groups) == 1 {
		current, err := storedCurrentGroup(ctx, tx, roomID)
		if err != nil {
			return nil, err
		}
		return &stateAt{roomID: roomID, group: groups[0], current: current.Valid && current.Int64 == groups[0]}, nil
	}
	states := reported
	out := &stateAt{roomID: roomID}
	for i, id := range groups {
		s, err := loadState(ctx, tx, id)
		if err != nil {
			return nil, err
		}
		states = append(states, s)
		if i == 0 {
			base, err := readStateGroup(ctx, tx, id)
			if err != nil {
				return nil, err
			}
			out.base, out.baseState = &base, s
		}
	}
	if out.m, err = r.resolve(ctx, tx, v, states); err != nil {
		return nil, err
	}
	return out, nil
}

// stateFromIDs turns a list of state event IDs into a state map; rejected
// events and events of other rooms are left out.
func (r *core) stateFromIDs(ctx context.Context, q querier, v gomatrixserverlib.IRoomVersion, roomID string, ids []string) (stateMap, error) {
	events, err := r.loadEvents(ctx, q, v, ids)
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
