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
func (r *Rooms) Send(ctx context.Context, sender spec.UserID, deviceID, txnID, roomID, evType string, stateKey *string, content json.RawMessage) (string, error) {
	if evType == spec.MRoomRedaction && stateKey == nil {
		return r.sendClientRedaction(ctx, sender, deviceID, txnID, roomID, content)
	}
	return r.send(ctx, deviceID, txnID, roomID, newEvent{Sender: sender, Type: evType, StateKey: stateKey, Content: content}, nil)
}

// send is Send for any new event; check, when not nil, runs inside the write
// before the event is built, and may refuse it.
func (r *Rooms) send(ctx context.Context, deviceID, txnID, roomID string, ne newEvent, check func(w *writeTx, v gomatrixserverlib.IRoomVersion) error) (string, error) {
	sender := ne.Sender
	var eventID string
	err := r.write(ctx, func(w *writeTx) error {
		if txnID != "" {
			err := w.tx.QueryRowContext(ctx,
				`SELECT event_id FROM transaction_ids WHERE localpart = ? AND device_id = ? AND room_id = ? AND txn_id = ?`,
				sender.Local(), deviceID, roomID, txnID).Scan(&eventID)
			if err == nil {
				return nil
			}
			if !errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("look up transaction ID: %w", err)
			}
		}
		v, err := r.versionOf(ctx, w, roomID)
		if err != nil {
			return err
		}
		if err := requireJoined(ctx, w.tx, roomID, sender); err != nil {
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
		ev, err := r.appendLocal(ctx, w, roomID, v, ne)
		if err != nil {
			return err
		}
		eventID = ev.EventID()
		if ev.Type() == spec.MRoomRedaction {
			if err := r.applyRedaction(ctx, w.tx, v, ev); err != nil {
				return err
			}
		}
		if txnID != "" {
			return r.recordTransactionID(ctx, w, sender, deviceID, roomID, txnID, eventID)
		}
		return nil
	})
	return eventID, err
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
func (r *Rooms) recordTransactionID(ctx context.Context, w *writeTx, sender spec.UserID, deviceID, roomID, txnID, eventID string) error {
	now := r.now()
	if _, err := w.tx.ExecContext(ctx,
		`INSERT INTO transaction_ids (localpart, device_id, room_id, txn_id, event_id, sent_ts) VALUES (?, ?, ?, ?, ?, ?)`,
		sender.Local(), deviceID, roomID, txnID, eventID, now.UnixMilli()); err != nil {
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
	if m != spec.Join {
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
