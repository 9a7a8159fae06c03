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
		if _, err := w.tx.ExecContext(ctx, `UPDATE rooms SET current_state_group = ? WHERE room_id = ?`, row.after.Int64, roomID); err != nil {
			return fmt.Errorf("set current state group: %w", err)
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

// stateEvent returns the current state event (type, stateKey) of a room.
func stateEvent(ctx context.Context, q querier, v gomatrixserverlib.IRoomVersion, roomID, evType, stateKey string) (gomatrixserverlib.PDU, error) {
	var raw []byte
	err := q.QueryRowContext(ctx,
		`SELECT e.json FROM current_state s JOIN events e ON e.event_id = s.event_id
		 WHERE s.room_id = ? AND s.type = ? AND s.state_key = ?`, roomID, evType, stateKey).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: %s %q in %s", ErrEventNotFound, evType, stateKey, roomID)
	}
	if err != nil {
		return nil, fmt.Errorf("load state %s %q: %w", evType, stateKey, err)
	}
	return loadEvent(v, raw)
}
