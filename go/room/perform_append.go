package room

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"

	"hearth/go/identity"
)

// newEvent is what a local user asks to add to a room.
type newEvent struct {
	Sender   spec.UserID
	Type     string
	StateKey *string
	Content  json.RawMessage
	Redacts  string
}

// appendLocal builds, signs and authorises a new event at the room's forward
// extremities, then stores it. Auth rules are checked against the room's
// current state: an event they refuse is never stored (ErrForbidden).
func (r *Performer) appendLocal(ctx context.Context, w *writeTx, roomID string, v gomatrixserverlib.IRoomVersion, ne newEvent) (gomatrixserverlib.PDU, error) {
	group, err := currentGroup(ctx, w.tx, roomID)
	if err != nil {
		return nil, err
	}
	return r.appendLocalAt(ctx, w, roomID, v, ne, group, nil)
}

// tips is a room's forward extremities, and the greatest depth among them.
type tips struct {
	ids   []string
	depth int64
}

// appendLocalAt is appendLocal for a caller that read the room's current
// state group in w, and perhaps its forward extremities (nil: read here).
func (r *Performer) appendLocalAt(ctx context.Context, w *writeTx, roomID string, v gomatrixserverlib.IRoomVersion, ne newEvent, group int64, at *tips) (gomatrixserverlib.PDU, error) {
	if !json.Valid(ne.Content) || len(ne.Content) == 0 || ne.Content[0] != '{' {
		return nil, fmt.Errorf("%w: content must be a JSON object", ErrBadEvent)
	}
	proto := gomatrixserverlib.ProtoEvent{
		SenderID: ne.Sender.String(),
		RoomID:   roomID,
		Type:     ne.Type,
		StateKey: ne.StateKey,
		Content:  spec.RawJSON(ne.Content),
		Redacts:  ne.Redacts,
		Version:  v,
	}
	if at == nil {
		ids, depth, err := extremities(ctx, w.tx, roomID)
		if err != nil {
			return nil, err
		}
		at = &tips{ids, depth}
	}
	prevIDs := at.ids
	proto.PrevEvents = prevIDs
	proto.Depth = at.depth + 1

	auth, err := authEventsFor(&proto, func(key stateKey) (gomatrixserverlib.PDU, error) {
		return r.currentAuthEvent(ctx, w, v, roomID, group, key)
	})
	if err != nil {
		return nil, err
	}
	builder := v.NewEventBuilderFromProtoEvent(&proto)
	if err := builder.AddAuthEvents(auth); err != nil {
		return nil, fmt.Errorf("select auth events: %w", err)
	}
	ev, err := builder.Build(r.now(), r.identity.ServerName, identity.KeyID, r.identity.Key)
	var invalid gomatrixserverlib.EventValidationError
	if errors.As(err, &invalid) && invalid.Code == gomatrixserverlib.EventValidationTooLarge {
		return nil, fmt.Errorf("%w: %v", ErrEventTooLarge, err)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadEvent, err)
	}
	if err := gomatrixserverlib.Allowed(ev, auth, userIDForSender); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrForbidden, err)
	}
	if err := r.store(ctx, w, ev, group, prevIDs); err != nil {
		return nil, err
	}
	return ev, nil
}

// authEventsFor collects the events the auth rules need to judge proto,
// each from load (nil: not in the state).
func authEventsFor(proto *gomatrixserverlib.ProtoEvent, load func(stateKey) (gomatrixserverlib.PDU, error)) (*gomatrixserverlib.AuthEvents, error) {
	needed, err := gomatrixserverlib.StateNeededForProtoEvent(proto)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadEvent, err)
	}
	auth, _ := gomatrixserverlib.NewAuthEvents(nil)
	for _, tuple := range needed.Tuples() {
		ev, err := load(stateKey{tuple.EventType, tuple.StateKey})
		if err != nil {
			return nil, err
		}
		if ev == nil {
			continue
		}
		if err := auth.AddEvent(ev); err != nil {
			return nil, fmt.Errorf("add auth event: %w", err)
		}
	}
	return auth, nil
}

// currentStateLoader is a loader for authEventsFor that reads current state
// through q, uncached.
func currentStateLoader(ctx context.Context, q querier, v gomatrixserverlib.IRoomVersion, roomID string) func(stateKey) (gomatrixserverlib.PDU, error) {
	return func(key stateKey) (gomatrixserverlib.PDU, error) {
		ev, err := stateEvent(ctx, q, v, roomID, key.Type, key.StateKey)
		if errors.Is(err, ErrEventNotFound) {
			return nil, nil
		}
		return ev, err
	}
}

// currentAuthEvent returns the room's current state event for key, nil if
// none; group is the room's current state group, read in w. Reads go
// through the auth cache (authcache.go).
func (r *Performer) currentAuthEvent(ctx context.Context, w *writeTx, v gomatrixserverlib.IRoomVersion, roomID string, group int64, key stateKey) (gomatrixserverlib.PDU, error) {
	if ev, ok := w.auth.lookup(roomID, group, key); ok {
		return ev, nil
	}
	if ev, ok := r.auth.lookup(roomID, group, key); ok {
		return ev, nil
	}
	ev, err := currentStateLoader(ctx, w.tx, v, roomID)(key)
	if err != nil {
		return nil, err
	}
	w.auth.note(roomID, group, key, ev)
	return ev, nil
}

// store writes an accepted local event, advances current state and
// extremities, and queues it for the other servers in the room. Local events
// sit on every extremity, so the state before one is the current state,
// whose group is before.
func (r *Performer) store(ctx context.Context, w *writeTx, ev gomatrixserverlib.PDU, before int64, prevIDs []string) error {
	roomID := ev.RoomID().String()
	var replaced, membershipBefore string
	var err error
	if ev.StateKey() != nil {
		if replaced, membershipBefore, err = currentEntry(ctx, w.tx, roomID, keyOf(ev)); err != nil {
			return err
		}
	}
	row, err := r.insertEvent(ctx, w, eventRow{ev: ev, before: sql.NullInt64{Int64: before, Valid: true}, newKey: replaced == "", local: true})
	if err != nil {
		return err
	}
	if sk := ev.StateKey(); sk != nil {
		var membership any
		if ev.Type() == spec.MRoomMember {
			m, err := ev.Membership()
			if err != nil {
				return fmt.Errorf("%w: %v", ErrBadEvent, err)
			}
			membership = m
		}
		if err := upsertCurrentState(ctx, w.tx, roomID, keyOf(ev), ev.EventID(), membership); err != nil {
			return err
		}
		if err := setCurrentGroup(ctx, w.tx, roomID, row.after.Int64); err != nil {
			return err
		}
	}
	if err := replaceExtremities(ctx, w.tx, roomID, prevIDs, ev.EventID()); err != nil {
		return err
	}
	// The room's state is now its state after ev, whose group insertEvent
	// returned: no need to read it back.
	joined, err := r.joinedMembersAfter(ctx, w, ev, before, row.after)
	if err != nil {
		return err
	}
	if err := r.announce(ctx, w, ev, row.pos, joined); err != nil {
		return err
	}
	return r.federate(ctx, w, ev, membershipBefore, joined)
}

// replaceExtremities makes eventID the room's forward extremity in place of
// its prev events, which are extremities. The usual single prev event is
// replaced by one UPDATE, not a DELETE and an INSERT: in wasm every
// statement is a crossing of the storage bridge.
func replaceExtremities(ctx context.Context, tx *sql.Tx, roomID string, prevIDs []string, eventID string) error {
	if len(prevIDs) == 0 {
		return insertExtremity(ctx, tx, roomID, eventID)
	}
	for _, prev := range prevIDs[1:] {
		if _, err := tx.ExecContext(ctx, `DELETE FROM room_extremities WHERE room_id = ? AND event_id = ?`, roomID, prev); err != nil {
			return fmt.Errorf("update extremities: %w", err)
		}
	}
	res, err := tx.ExecContext(ctx, `UPDATE room_extremities SET event_id = ? WHERE room_id = ? AND event_id = ?`, eventID, roomID, prevIDs[0])
	if err != nil {
		return fmt.Errorf("update extremities: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("update extremities: %w", err)
	} else if n > 0 {
		return nil
	}
	return insertExtremity(ctx, tx, roomID, eventID)
}

func insertExtremity(ctx context.Context, tx *sql.Tx, roomID, eventID string) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO room_extremities (room_id, event_id) VALUES (?, ?)`, roomID, eventID); err != nil {
		return fmt.Errorf("update extremities: %w", err)
	}
	return nil
}
