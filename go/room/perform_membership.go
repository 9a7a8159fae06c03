package room

import (
	"context"
	"database/sql"
	"fmt"
	"maps"

	"github.com/matrix-org/gomatrixserverlib/spec"
)

// Membership changes of local users, and what follows them (profiles, forgetting).

// SetMembership changes target's membership in a room on behalf of sender:
// join and leave for oneself, invite, kick (leave for another) and ban for
// others. The auth rules decide whether it is allowed.
func (r *Performer) SetMembership(ctx context.Context, sender spec.UserID, roomID string, target spec.UserID, membership, reason string) (string, error) {
	var extra map[string]any
	if reason != "" {
		extra = map[string]any{"reason": reason}
	}
	return r.setMembership(ctx, sender, roomID, target, membership, extra)
}

// JoinWithContent joins user to a room with extra keys in the member event's
// content: a join body's reason and custom keys (client-server API, "POST
// /rooms/{roomId}/join"), which the event keeps.
func (r *Performer) JoinWithContent(ctx context.Context, user spec.UserID, roomID string, extra map[string]any) (string, error) {
	return r.setMembership(ctx, user, roomID, user, spec.Join, extra)
}

// setMembership is SetMembership with extra content keys.
func (r *Performer) setMembership(ctx context.Context, sender spec.UserID, roomID string, target spec.UserID, membership string, extra map[string]any) (string, error) {
	targetID := target.String()
	var eventID string
	err := r.write(ctx, func(w *writeTx) error {
		v, err := roomVersion(ctx, w.tx, roomID)
		if err != nil {
			return err
		}
		content, err := r.memberContent(ctx, w.tx, target, membership, extra)
		if err != nil {
			return err
		}
		ne := newEvent{Sender: sender, Type: spec.MRoomMember, StateKey: &targetID, Content: mustJSON(content)}
		if eventID, err = unchangedState(ctx, w.tx, v, roomID, ne); eventID != "" || err != nil {
			return err
		}
		ev, err := r.appendLocal(ctx, w, roomID, v, ne)
		if err != nil {
			return err
		}
		eventID = ev.EventID()
		if membership == spec.Join || membership == spec.Invite {
			// A room forgotten and then rejoined (or re-invited to) shows again.
			if _, err := w.tx.ExecContext(ctx, `DELETE FROM forgotten_rooms WHERE user_id = ? AND room_id = ?`, targetID, roomID); err != nil {
				return fmt.Errorf("unforget %s: %w", roomID, err)
			}
		}
		return nil
	})
	return eventID, err
}

// memberContent is the content of a new m.room.member event: extra's keys,
// the membership, and for joins and invites the target's profile, as clients
// show it per room, unless extra names its own.
func (r *Performer) memberContent(ctx context.Context, tx *sql.Tx, target spec.UserID, membership string, extra map[string]any) (map[string]any, error) {
	content := maps.Clone(extra)
	if content == nil {
		content = map[string]any{}
	}
	content["membership"] = membership
	if membership == spec.Join || membership == spec.Invite {
		name, avatar, err := r.profile(ctx, tx, target)
		if err != nil {
			return nil, fmt.Errorf("profile of %s: %w", target.String(), err)
		}
		if _, given := content["displayname"]; !given && name != "" {
			content["displayname"] = name
		}
		if _, given := content["avatar_url"]; !given && avatar != "" {
			content["avatar_url"] = avatar
		}
	}
	return content, nil
}

// UpdateProfile sends a new m.room.member join event, carrying the user's
// current profile, to every room the user is joined to. Each room is its own
// write: one room refusing does not hold back the others, and the first
// error is returned after trying them all.
func (r *Performer) UpdateProfile(ctx context.Context, user spec.UserID) error {
	rooms, err := r.query.JoinedRooms(ctx, user)
	if err != nil {
		return err
	}
	var first error
	for _, roomID := range rooms {
		if _, err := r.SetMembership(ctx, user, roomID, user, spec.Join, ""); err != nil && first == nil {
			first = fmt.Errorf("update profile in %s: %w", roomID, err)
		}
	}
	return first
}

// Forget hides a room the user has left from their future syncs
// (client-server API, "POST /rooms/{roomId}/forget").
func (r *Performer) Forget(ctx context.Context, user spec.UserID, roomID string) error {
	return r.db.Write(ctx, func(tx *sql.Tx) error {
		m, err := membership(ctx, tx, roomID, user)
		if err != nil {
			return err
		}
		if m == spec.Join || m == spec.Invite {
			return fmt.Errorf("%w: %s is %s in %s", ErrStillJoined, user.String(), m, roomID)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO forgotten_rooms (user_id, room_id) VALUES (?, ?) ON CONFLICT DO NOTHING`,
			user.String(), roomID)
		if err != nil {
			return fmt.Errorf("forget %s: %w", roomID, err)
		}
		return nil
	})
}
