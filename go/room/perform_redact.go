package room

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"
)

// Redact sends an m.room.redaction of targetID. From room version 3 on the
// auth rules accept any redaction event into the room; whether it takes effect
// is each server's call: a user may redact their own events, and others' only
// with the room's redact power level. Redact refuses what would not take effect.
func (r *Performer) Redact(ctx context.Context, sender spec.UserID, deviceID, txnID, roomID, targetID, reason string) (string, error) {
	content := map[string]any{"redacts": targetID} // room version 11 moved redacts into content
	if reason != "" {
		content["reason"] = reason
	}
	return r.sendRedaction(ctx, sender, deviceID, txnID, roomID, targetID, mustJSON(content))
}

// sendClientRedaction is an m.room.redaction sent through PUT /send: the
// client names the target in content.redacts (room version 11's place), and
// the same check as Redact's applies, or /send would be a way around it.
func (r *Performer) sendClientRedaction(ctx context.Context, sender spec.UserID, deviceID, txnID, roomID string, content json.RawMessage) (string, error) {
	var c struct {
		Redacts string `json:"redacts"`
	}
	if err := json.Unmarshal(content, &c); err != nil || c.Redacts == "" {
		return "", fmt.Errorf("%w: an m.room.redaction needs content.redacts, an event ID", ErrBadEvent)
	}
	return r.sendRedaction(ctx, sender, deviceID, txnID, roomID, c.Redacts, content)
}

// sendRedaction sends a redaction of targetID with the given content,
// refusing one that would not take effect.
func (r *Performer) sendRedaction(ctx context.Context, sender spec.UserID, deviceID, txnID, roomID, targetID string, content json.RawMessage) (string, error) {
	ne := newEvent{Sender: sender, Type: spec.MRoomRedaction, Content: content, Redacts: targetID}
	return r.send(ctx, deviceID, txnID, roomID, ne, func(w *writeTx, v gomatrixserverlib.IRoomVersion) error {
		target, err := r.eventInRoom(ctx, w.tx, v, roomID, targetID)
		if err != nil {
			return err
		}
		ok, err := r.redactionTakesEffect(ctx, w.tx, roomID, sender, target)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("%w: %s may not redact %s's event", ErrForbidden, sender.String(), target.SenderID())
		}
		return nil
	})
}

// mayChangeState reports whether user's power allows sending state evType.
func (r *Performer) mayChangeState(ctx context.Context, q querier, roomID string, user spec.UserID, evType string) (bool, error) {
	pl, err := r.powerLevels(ctx, q, roomID)
	if err != nil {
		return false, err
	}
	return pl.UserLevel(spec.SenderID(user.String())) >= pl.EventLevel(evType, true), nil
}
