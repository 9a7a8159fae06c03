package room

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"
)

// Sending events of local users: messages, state, and their transaction IDs.

// Send adds a message or state event from a local user. A repeated
// (device, room, txnID) returns the event ID of the first send instead of a
// new event: transaction IDs are scoped per device and per room.
// An empty txnID is not deduplicated (state events have none).
// A redaction goes through the same check as Redact.
func (r *Performer) Send(ctx context.Context, sender spec.UserID, deviceID, txnID, roomID, evType string, stateKey *string, content json.RawMessage) (string, error) {
	if evType == spec.MRoomRedaction && stateKey == nil {
		return r.sendClientRedaction(ctx, sender, deviceID, txnID, roomID, content)
	}
	return r.send(ctx, deviceID, txnID, roomID, newEvent{Sender: sender, Type: evType, StateKey: stateKey, Content: content}, nil)
}

// send is Send for any new event; check, when not nil, runs inside the write
// before the event is built, and may refuse it.
func (r *Performer) send(ctx context.Context, deviceID, txnID, roomID string, ne newEvent, check func(w *writeTx, v gomatrixserverlib.IRoomVersion) error) (string, error) {
	sender := ne.Sender
	var eventID string
	err := r.write(ctx, func(w *writeTx) error {
		room, err := readSendState(ctx, w.tx, roomID, sender, deviceID, txnID)
		if err != nil {
			return err
		}
		if room.txnEventID != "" {
			eventID = room.txnEventID
			return nil
		}
		v := room.version
		if err := joinedOrForbidden(room.membership, roomID, sender); err != nil {
			return err
		}
		if check != nil {
			if err := check(w, v); err != nil {
				return err
			}
		}
		if eventID, err = unchangedState(ctx, w.tx, v, roomID, ne); eventID != "" || err != nil {
			return err
		}
		group := room.group.Int64
		if !room.group.Valid {
			if group, err = currentGroup(ctx, w.tx, roomID); err != nil {
				return err
			}
		}
		ev, err := r.appendLocalAt(ctx, w, roomID, v, ne, group, &room.tips)
		if err != nil {
			return err
		}
		eventID = ev.EventID()
		if ev.Type() == spec.MRoomRedaction {
			if err := r.applyRedaction(ctx, w, v, ev); err != nil {
				return err
			}
		}
		if txnID != "" {
			return r.recordTransactionID(ctx, w, sender, deviceID, txnID, eventID)
		}
		return nil
	})
	return eventID, err
}

// sendState is what a send reads of its room before it builds the event.
type sendState struct {
	version gomatrixserverlib.IRoomVersion
	// group is the room's current state group (NULL for a room from before
	// state groups: currentGroup makes one).
	group sql.NullInt64
	// membership is the sender's current membership, "" if none.
	membership string
	// txnEventID is the event an earlier send with the same transaction ID
	// made, "" if none (or no transaction ID).
	txnEventID string
	// tips is where the new event goes: the room's forward extremities.
	tips tips
}

// readSendState reads a send's room in one statement, or fails with
// ErrRoomNotFound: the room's version and current state group, the sender's
// membership, an earlier send's event for txnID, and (in rows of their own)
// the forward extremities. They were five statements, and in wasm each
// crosses the storage bridge (0.1 ms or more).
func readSendState(ctx context.Context, q querier, roomID string, sender spec.UserID, deviceID, txnID string) (sendState, error) {
	var s sendState
	// Column 1 says which kind of row: 0 the room's, 1 an extremity (its
	// ID in column 5, its depth in column 3).
	rows, err := q.QueryContext(ctx,
		`SELECT 0, r.room_version, r.current_state_group,
		   (SELECT membership FROM current_state WHERE room_id = r.room_id AND type = 'm.room.member' AND state_key = ?),
		   (SELECT e.event_id FROM transaction_ids t JOIN events e ON e.stream_pos = t.stream_pos
		    WHERE t.localpart = ? AND t.device_id = ? AND t.txn_id = ? AND e.room_id = r.room_id)
		 FROM rooms r WHERE r.room_id = ?
		 UNION ALL
		 SELECT 1, NULL, e.depth, NULL, x.event_id
		 FROM room_extremities x JOIN events e ON e.event_id = x.event_id WHERE x.room_id = ?
		 ORDER BY 1, 5`,
		sender.String(), sender.Local(), deviceID, txnID, roomID, roomID)
	if err != nil {
		return s, fmt.Errorf("look up room %s for a send: %w", roomID, err)
	}
	defer rows.Close()
	var version, membership, txnEventID sql.NullString
	found := false
	s.tips.ids = []string{}
	for rows.Next() {
		var kind int
		var number sql.NullInt64
		var text, member, id sql.NullString
		if err := rows.Scan(&kind, &text, &number, &member, &id); err != nil {
			return s, fmt.Errorf("look up room %s for a send: %w", roomID, err)
		}
		if kind == 0 {
			found, version, s.group, membership, txnEventID = true, text, number, member, id
			continue
		}
		s.tips.ids = append(s.tips.ids, id.String)
		s.tips.depth = max(s.tips.depth, number.Int64)
	}
	if err := rows.Err(); err != nil {
		return s, fmt.Errorf("look up room %s for a send: %w", roomID, err)
	}
	if !found {
		return s, fmt.Errorf("%w: %s", ErrRoomNotFound, roomID)
	}
	if s.version, err = gomatrixserverlib.GetRoomVersion(gomatrixserverlib.RoomVersion(version.String)); err != nil {
		return s, fmt.Errorf("room %s: %w", roomID, err)
	}
	s.membership = membership.String
	if txnID != "" {
		s.txnEventID = txnEventID.String
	}
	return s, nil
}

// TransactionIDRetention is how long a client transaction ID is remembered:
// far longer than a client retries a send (Synapse keeps them a day too).
// Older ones are forgotten, so the same ID then makes a new event.
const TransactionIDRetention = 24 * time.Hour

// transactionIDPruneInterval is how often recording one also forgets old
// ones: one delete an hour (a scan of about a day's rows), not one per send.
const transactionIDPruneInterval = time.Hour

// recordTransactionID remembers which event a client's transaction ID made,
// and at most once an interval forgets those past TransactionIDRetention.
func (r *Performer) recordTransactionID(ctx context.Context, w *writeTx, sender spec.UserID, deviceID, txnID, eventID string) error {
	now := r.now()
	if _, err := w.tx.ExecContext(ctx,
		`INSERT INTO transaction_ids (stream_pos, localpart, device_id, txn_id, sent_ts)
		 SELECT stream_pos, ?, ?, ?, ? FROM events WHERE event_id = ?`,
		sender.Local(), deviceID, txnID, now.UnixMilli(), eventID); err != nil {
		return fmt.Errorf("record transaction ID: %w", err)
	}
	if now.UnixMilli() < r.transactionIDsPruned.Load()+transactionIDPruneInterval.Milliseconds() {
		return nil
	}
	if _, err := w.tx.ExecContext(ctx, `DELETE FROM transaction_ids WHERE sent_ts < ?`, now.Add(-TransactionIDRetention).UnixMilli()); err != nil {
		return fmt.Errorf("forget old transaction IDs: %w", err)
	}
	w.afterCommit = append(w.afterCommit, func() { r.transactionIDsPruned.Store(now.UnixMilli()) })
	return nil
}

// requireJoined fails with ErrForbidden unless user is joined to the room.
func requireJoined(ctx context.Context, q querier, roomID string, user spec.UserID) error {
	m, err := membership(ctx, q, roomID, user)
	if err != nil {
		return err
	}
	return joinedOrForbidden(m, roomID, user)
}

// joinedOrForbidden fails with ErrForbidden unless membership is a join.
func joinedOrForbidden(membership, roomID string, user spec.UserID) error {
	if membership != spec.Join {
		return fmt.Errorf("%w: %s is not joined to %s", ErrForbidden, user.String(), roomID)
	}
	return nil
}

// membership returns user's current membership of a room, "" if none.
func membership(ctx context.Context, q querier, roomID string, user spec.UserID) (string, error) {
	var m sql.NullString
	err := q.QueryRowContext(ctx,
		`SELECT membership FROM current_state WHERE room_id = ? AND type = 'm.room.member' AND state_key = ?`,
		roomID, user.String()).Scan(&m)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("look up membership: %w", err)
	}
	return m.String, nil
}
