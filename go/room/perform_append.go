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
func (r *Rooms) appendLocal(ctx context.Context, w *writeTx, roomID string, v gomatrixserverlib.IRoomVersion, ne newEvent) (gomatrixserverlib.PDU, error) {
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
	prevIDs, depth, err := extremities(ctx, w.tx, roomID)
	if err != nil {
		return nil, err
	}
	proto.PrevEvents = prevIDs
	proto.Depth = depth + 1

	auth, err := r.authEventsFor(ctx, w.tx, v, &proto)
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
	if err := r.store(ctx, w, v, ev, prevIDs); err != nil {
		return nil, err
	}
	return ev, nil
}

// authEventsFor loads, from current state, the events the auth rules need
// to judge proto.
func (r *Rooms) authEventsFor(ctx context.Context, q querier, v gomatrixserverlib.IRoomVersion, proto *gomatrixserverlib.ProtoEvent) (*gomatrixserverlib.AuthEvents, error) {
	needed, err := gomatrixserverlib.StateNeededForProtoEvent(proto)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadEvent, err)
	}
	auth, _ := gomatrixserverlib.NewAuthEvents(nil)
	for _, tuple := range needed.Tuples() {
		ev, err := stateEvent(ctx, q, v, proto.RoomID, tuple.EventType, tuple.StateKey)
		if errors.Is(err, ErrEventNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if err := auth.AddEvent(ev); err != nil {
			return nil, fmt.Errorf("add auth event: %w", err)
		}
	}
	return auth, nil
}

// store writes an accepted local event, advances current state and
// extremities, and queues it for the other servers in the room. Local events
// sit on every extremity, so the state before one is the current state.
func (r *Rooms) store(ctx context.Context, w *writeTx, v gomatrixserverlib.IRoomVersion, ev gomatrixserverlib.PDU, prevIDs []string) error {
	roomID := ev.RoomID().String()
	before, err := currentGroup(ctx, w.tx, roomID)
	if err != nil {
		return err
	}
	var replaced, membershipBefore string
	if ev.StateKey() != nil {
		if replaced, membershipBefore, err = currentEntry(ctx, w.tx, roomID, keyOf(ev)); err != nil {
			return err
		}
	}
	row, err := insertEvent(ctx, w, eventRow{ev: ev, before: sql.NullInt64{Int64: before, Valid: true}, newKey: replaced == ""})
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
	for _, prev := range prevIDs {
		if _, err := w.tx.ExecContext(ctx, `DELETE FROM room_extremities WHERE room_id = ? AND event_id = ?`, roomID, prev); err != nil {
			return fmt.Errorf("update extremities: %w", err)
		}
	}
	if _, err := w.tx.ExecContext(ctx, `INSERT INTO room_extremities (room_id, event_id) VALUES (?, ?)`, roomID, ev.EventID()); err != nil {
		return fmt.Errorf("update extremities: %w", err)
	}
	return r.federate(ctx, w, ev, membershipBefore)
}
