package room

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"
	"github.com/sirupsen/logrus"
)

// How a redaction takes effect, whoever sent it: local users' redactions
// (perform_redact.go) and other servers' (input_receive.go) both apply here.

// redactionTakesEffect decides whether sender's redaction of target applies.
func (r *core) redactionTakesEffect(ctx context.Context, q querier, roomID string, sender spec.UserID, target gomatrixserverlib.PDU) (bool, error) {
	if string(target.SenderID()) == sender.String() {
		return true, nil
	}
	pl, err := r.powerLevels(ctx, q, roomID)
	if err != nil {
		return false, err
	}
	return pl.UserLevel(spec.SenderID(sender.String())) >= pl.Redact, nil
}

// applyRedaction replaces the stored JSON of the event a redaction names by
// its redacted form (the room version's redaction algorithm), with the
// redaction in unsigned.redacted_because. Every reader then shows it redacted.
// Federation's Receive must call it for each accepted m.room.redaction too.
func (r *core) applyRedaction(ctx context.Context, w *writeTx, v gomatrixserverlib.IRoomVersion, redaction gomatrixserverlib.PDU) error {
	tx := w.tx
	targetID := redaction.Redacts()
	if targetID == "" {
		var c struct {
			Redacts string `json:"redacts"`
		}
		_ = json.Unmarshal(redaction.Content(), &c)
		targetID = c.Redacts
	}
	target, err := r.eventInRoom(ctx, tx, v, redaction.RoomID().String(), targetID)
	if errors.Is(err, ErrEventNotFound) {
		return nil // not held (yet): nothing to redact
	}
	if err != nil {
		return err
	}
	sender, err := spec.NewUserID(string(redaction.SenderID()), true)
	if err != nil {
		return fmt.Errorf("%w: redaction sender: %v", ErrBadEvent, err)
	}
	ok, err := r.redactionTakesEffect(ctx, tx, redaction.RoomID().String(), *sender, target)
	if err != nil || !ok {
		return err
	}
	redacted, err := v.RedactEventJSON(target.JSON())
	if err != nil {
		return fmt.Errorf("redact %s: %w", targetID, err)
	}
	ev, err := v.NewEventFromTrustedJSON(redacted, true)
	if err != nil {
		return fmt.Errorf("redact %s: %w", targetID, err)
	}
	// Clients read redacted_because as a client event, so it is stored in that form.
	because := map[string]any{
		"type": redaction.Type(), "event_id": redaction.EventID(), "sender": string(redaction.SenderID()),
		"room_id": redaction.RoomID().String(), "origin_server_ts": redaction.OriginServerTS(),
		"content": json.RawMessage(redaction.Content()), "redacts": targetID,
	}
	ev, err = ev.SetUnsigned(map[string]any{"redacted_because": because})
	if err != nil {
		return fmt.Errorf("redact %s: %w", targetID, err)
	}
	// First out of the full-text index, which reads the body it removes from
	// the stored JSON: a cold event's, read above, is put back for it.
	pos, wasCold, err := r.warmRow(ctx, w, targetID, target.JSON())
	if err != nil {
		return err
	}
	if err := unindexBody(ctx, tx, targetID); err != nil {
		return err
	}
	// A redacted state event is redacted in every state group that holds it.
	r.auth.invalidate()
	if _, err := tx.ExecContext(ctx, `UPDATE events SET json = ? WHERE event_id = ?`, ev.JSON(), targetID); err != nil {
		return fmt.Errorf("store redacted %s: %w", targetID, err)
	}
	if target.StateKey() == nil && pos > 0 && r.cold != nil {
		// A message event may have a copy outside (cold now, or once, as a
		// thread root): it must not keep the content either (cold_events.go:
		// why over, not deleted).
		w.afterCommit = append(w.afterCommit, func() {
			ctx := context.WithoutCancel(ctx)
			if !wasCold {
				_, err := r.cold.EventJSON(ctx, pos)
				if errors.Is(err, fs.ErrNotExist) {
					return // no copy
				}
				if err != nil { // a copy may be there: redact it all the same
					logrus.WithError(err).Warnf("look for a copy of %s kept outside the database", targetID)
				}
			}
			if err := r.cold.PutEventJSON(ctx, pos, ev.JSON()); err != nil {
				logrus.WithError(err).Warnf("redact the copy of %s kept outside the database (the next move replaces it)", targetID)
			}
		})
	}
	if r.redacted != nil {
		return r.redacted(ctx, tx, targetID)
	}
	return nil
}

// eventInRoom loads one stored event of a room.
func (r *core) eventInRoom(ctx context.Context, q querier, v gomatrixserverlib.IRoomVersion, roomID, eventID string) (gomatrixserverlib.PDU, error) {
	row := []storedJSON{{}}
	err := q.QueryRowContext(ctx, `SELECT stream_pos, json FROM events WHERE event_id = ? AND room_id = ?`, eventID, roomID).Scan(&row[0].pos, &row[0].raw)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: %s in %s", ErrEventNotFound, eventID, roomID)
	}
	if err != nil {
		return nil, fmt.Errorf("load event %s: %w", eventID, err)
	}
	if err := r.warm(ctx, row); err != nil {
		return nil, err
	}
	return loadEvent(v, eventID, row[0].raw)
}

// powerLevels returns a room's current power levels (the spec's defaults
// when it has no m.room.power_levels event).
func (r *core) powerLevels(ctx context.Context, q querier, roomID string) (gomatrixserverlib.PowerLevelContent, error) {
	v, err := roomVersion(ctx, q, roomID)
	if err != nil {
		return gomatrixserverlib.PowerLevelContent{}, err
	}
	ev, err := stateEvent(ctx, q, v, roomID, spec.MRoomPowerLevels, "")
	if errors.Is(err, ErrEventNotFound) {
		var pl gomatrixserverlib.PowerLevelContent
		pl.Defaults()
		return pl, nil
	}
	if err != nil {
		return gomatrixserverlib.PowerLevelContent{}, err
	}
	pl, err := gomatrixserverlib.NewPowerLevelContentFromEvent(ev)
	if err != nil {
		return pl, fmt.Errorf("power levels of %s: %w", roomID, err)
	}
	return pl, nil
}
