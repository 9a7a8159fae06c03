package room

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"
)

// Room upgrades (client-server API v1.11, "Room Upgrades", server behaviour):
// a new room of the asked version whose create event names its predecessor,
// the old room's state carried over, then a tombstone in the old room, which
// is restricted to moderators; local aliases and the directory entry move.

// upgradeCopiedState are the state types carried into the new room (the
// spec's list; member events are not, bans excepted).
var upgradeCopiedState = []string{
	"m.room.server_acl", "m.room.encryption", spec.MRoomName, "m.room.avatar", spec.MRoomTopic,
	"m.room.guest_access", spec.MRoomHistoryVisibility, spec.MRoomJoinRules,
}

// upgradeCopiedCreateKeys are the keys of the old create event kept in the new one.
var upgradeCopiedCreateKeys = []string{"type", "m.federate"}

// Upgrade replaces a room by a new one of version newVersion, on behalf of
// user, who must be joined and allowed to send m.room.tombstone. It returns
// the new room's ID. It is one transaction: the new room, the tombstone and
// what follows it happen together or not at all, so a failure half-way
// leaves no stray new room and no tombstone pointing nowhere.
func (r *Performer) Upgrade(ctx context.Context, user spec.UserID, roomID, newVersion string) (string, error) {
	q := reader{r.db}
	if err := requireJoined(ctx, q, roomID, user); err != nil {
		return "", err
	}
	if !Supported(gomatrixserverlib.RoomVersion(newVersion)) {
		return "", fmt.Errorf("%w: room version %q is not supported", ErrUnsupportedVersion, newVersion)
	}
	state, err := r.query.CurrentState(ctx, user, roomID)
	if err != nil {
		return "", err
	}
	last, _, err := extremities(ctx, q, roomID)
	if err != nil {
		return "", err
	}
	req := CreateRequest{Preset: PresetPrivateChat, RoomVersion: newVersion}
	create := map[string]any{}
	var powerLevels, canonicalAlias json.RawMessage
	for _, ev := range state {
		switch {
		case ev.Type() == spec.MRoomCreate:
			var old map[string]any
			_ = json.Unmarshal(ev.Content(), &old)
			for _, k := range upgradeCopiedCreateKeys {
				if v, ok := old[k]; ok {
					create[k] = v
				}
			}
		case ev.Type() == spec.MRoomPowerLevels:
			powerLevels = json.RawMessage(ev.Content())
		case ev.Type() == spec.MRoomCanonicalAlias:
			canonicalAlias = json.RawMessage(ev.Content())
		case slices.Contains(upgradeCopiedState, ev.Type()) && ev.StateKeyEquals(""):
			req.InitialState = append(req.InitialState, StateEvent{Type: ev.Type(), Content: json.RawMessage(ev.Content())})
		case ev.Type() == spec.MRoomMember:
			if m, _ := ev.Membership(); m == spec.Ban {
				req.InitialState = append(req.InitialState, StateEvent{Type: spec.MRoomMember, StateKey: *ev.StateKey(), Content: mustJSON(map[string]any{"membership": spec.Ban})})
			}
		}
	}
	create["predecessor"] = map[string]any{"room_id": roomID, "event_id": last[0]}
	req.CreationContent = mustJSON(create)
	if req.PowerLevelContentOverride, err = upgradedPowerLevels(powerLevels, user, newVersion); err != nil {
		return "", err
	}
	plan, err := r.planCreate(user, req)
	if err != nil {
		return "", fmt.Errorf("upgrade %s: %w", roomID, err)
	}
	var newRoomID string
	err = r.write(ctx, func(w *writeTx) error {
		// Checked again inside the write: membership or power may have changed.
		if err := requireJoined(ctx, w.tx, roomID, user); err != nil {
			return err
		}
		if ok, err := r.mayChangeState(ctx, w.tx, roomID, user, "m.room.tombstone"); err != nil || !ok {
			return errorOr(err, fmt.Errorf("%w: %s may not upgrade %s", ErrForbidden, user.String(), roomID))
		}
		var err error
		if newRoomID, err = r.createIn(ctx, w, plan); err != nil {
			return err
		}
		oldVersion, err := roomVersion(ctx, w.tx, roomID)
		if err != nil {
			return err
		}
		empty := ""
		tombstone := newEvent{Sender: user, Type: "m.room.tombstone", StateKey: &empty,
			Content: mustJSON(map[string]any{"body": "This room has been replaced", "replacement_room": newRoomID})}
		if _, err := r.appendLocal(ctx, w, roomID, oldVersion, tombstone); err != nil {
			return fmt.Errorf("tombstone: %w", err)
		}
		return r.retireUpgradedRoom(ctx, w, user, roomID, oldVersion, newRoomID, plan.v, powerLevels, canonicalAlias)
	})
	if err != nil {
		return "", fmt.Errorf("upgrade %s: %w", roomID, err)
	}
	log.WithField("room_id", roomID).WithField("replacement_room", newRoomID).Info("room upgraded")
	return newRoomID, nil
}

// upgradedPowerLevels is the old room's power levels for the new room: from
// room version 12 on, the upgrader creates the room and is privileged, so is
// not listed in users.
func upgradedPowerLevels(old json.RawMessage, upgrader spec.UserID, newVersion string) (json.RawMessage, error) {
	if old == nil {
		return nil, nil
	}
	var pl map[string]any
	if err := json.Unmarshal(old, &pl); err != nil {
		return nil, fmt.Errorf("power levels of the old room: %w", err)
	}
	v, err := gomatrixserverlib.GetRoomVersion(gomatrixserverlib.RoomVersion(newVersion))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnsupportedVersion, err)
	}
	if users, ok := pl["users"].(map[string]any); ok && v.PrivilegedCreators() {
		delete(users, upgrader.String())
	}
	return mustJSON(pl), nil
}

// retireUpgradedRoom does what follows the tombstone, in its write: the
// old room's canonical alias and local aliases move to the new room, its
// directory entry too, and only moderators may speak or invite in it. Steps
// the user's power does not allow are left out (the spec's "if possible").
func (r *Performer) retireUpgradedRoom(ctx context.Context, w *writeTx, user spec.UserID, oldRoomID string, oldVersion gomatrixserverlib.IRoomVersion,
	newRoomID string, newVersion gomatrixserverlib.IRoomVersion, powerLevels, canonicalAlias json.RawMessage) error {
	empty := ""
	state := func(evType string, content json.RawMessage) newEvent {
		return newEvent{Sender: user, Type: evType, StateKey: &empty, Content: content}
	}
	if canonicalAlias != nil {
		if _, err := r.appendLocal(ctx, w, newRoomID, newVersion, state(spec.MRoomCanonicalAlias, canonicalAlias)); err != nil {
			return fmt.Errorf("carry the canonical alias over: %w", err)
		}
		if ok, err := r.mayChangeState(ctx, w.tx, oldRoomID, user, spec.MRoomCanonicalAlias); err != nil {
			return err
		} else if ok {
			if _, err := r.appendLocal(ctx, w, oldRoomID, oldVersion, state(spec.MRoomCanonicalAlias, mustJSON(map[string]any{}))); err != nil {
				return fmt.Errorf("clear the old canonical alias: %w", err)
			}
		}
	}
	if _, err := w.tx.ExecContext(ctx, `UPDATE room_aliases SET room_id = ? WHERE room_id = ?`, newRoomID, oldRoomID); err != nil {
		return fmt.Errorf("move aliases: %w", err)
	}
	if _, err := w.tx.ExecContext(ctx, `UPDATE published_rooms SET room_id = ? WHERE room_id = ?`, newRoomID, oldRoomID); err != nil {
		return fmt.Errorf("move directory entry: %w", err)
	}
	var pl map[string]any
	if powerLevels == nil || json.Unmarshal(powerLevels, &pl) != nil {
		return nil
	}
	restricted := int64(50)
	if d, ok := pl["users_default"].(float64); ok && int64(d)+1 > restricted {
		restricted = int64(d) + 1
	}
	for _, k := range []string{"events_default", "invite"} {
		if v, ok := pl[k].(float64); !ok || int64(v) < restricted {
			pl[k] = restricted
		}
	}
	current, err := r.powerLevels(ctx, w.tx, oldRoomID)
	if err != nil {
		return err
	}
	if may, err := r.mayChangeState(ctx, w.tx, oldRoomID, user, spec.MRoomPowerLevels); err != nil || !may ||
		current.UserLevel(spec.SenderID(user.String())) < restricted {
		return err // not the user's to restrict: the old room stays as it is
	}
	if _, err := r.appendLocal(ctx, w, oldRoomID, oldVersion, state(spec.MRoomPowerLevels, mustJSON(pl))); err != nil {
		return fmt.Errorf("restrict the old room: %w", err)
	}
	return nil
}

// errorOr returns err if it is not nil, else fallback.
func errorOr(err, fallback error) error {
	if err != nil {
		return err
	}
	return fallback
}
