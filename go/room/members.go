package room

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/matrix-org/gomatrixserverlib/spec"
)

// EventContext is an event with what surrounds it in the room (client-server
// API, "GET /rooms/{roomId}/context/{eventId}").
type EventContext struct {
	Event  Event
	Before []Event // newest first
	After  []Event // oldest first
	State  []Event // the room's state at the event
}

// Context returns an event of a room and up to limit events around it, for
// a user joined to the room.
func (r *Rooms) Context(ctx context.Context, user spec.UserID, roomID, eventID string, limit int) (EventContext, error) {
	if err := r.checkJoined(ctx, roomID, user); err != nil {
		return EventContext{}, err
	}
	var pos int64
	err := r.db.QueryRow(ctx, `SELECT stream_pos FROM events WHERE event_id = ? AND room_id = ?`, eventID, roomID).Scan(&pos)
	if errors.Is(err, sql.ErrNoRows) {
		return EventContext{}, fmt.Errorf("%w: %s in %s", ErrEventNotFound, eventID, roomID)
	}
	if err != nil {
		return EventContext{}, fmt.Errorf("look up %s: %w", eventID, err)
	}
	at := StreamPos(pos)
	evs, err := r.query(ctx, roomID, `SELECT stream_pos, json FROM events WHERE event_id = ?`, eventID)
	if err != nil || len(evs) == 0 {
		return EventContext{}, errors.Join(err, fmt.Errorf("%w: %s", ErrEventNotFound, eventID))
	}
	before, _, _, err := r.Messages(ctx, user, roomID, at-1, Backward, limit/2)
	if err != nil {
		return EventContext{}, err
	}
	after, _, _, err := r.Messages(ctx, user, roomID, at, Forward, limit-limit/2)
	if err != nil {
		return EventContext{}, err
	}
	state, err := r.StateBetween(ctx, roomID, 0, at+1)
	if err != nil {
		return EventContext{}, err
	}
	return EventContext{Event: evs[0], Before: before, After: after, State: state}, nil
}

// Members returns the m.room.member events of a room as of stream position
// at (0: now), keeping only membership when set and dropping notMembership
// when set, for a user joined to the room.
func (r *Rooms) Members(ctx context.Context, user spec.UserID, roomID string, at StreamPos, membership, notMembership string) ([]Event, error) {
	if err := r.checkJoined(ctx, roomID, user); err != nil {
		return nil, err
	}
	var state []Event
	var err error
	if at > 0 {
		state, err = r.StateBetween(ctx, roomID, 0, at+1)
	} else {
		state, err = r.query(ctx, roomID,
			`SELECT e.stream_pos, e.json FROM current_state s JOIN events e ON e.event_id = s.event_id
			 WHERE s.room_id = ? AND s.type = 'm.room.member' ORDER BY e.stream_pos`, roomID)
	}
	if err != nil {
		return nil, err
	}
	out := []Event{}
	for _, ev := range state {
		if ev.Type() != spec.MRoomMember {
			continue
		}
		m, err := ev.Membership()
		if err != nil {
			continue
		}
		if (membership != "" && m != membership) || (notMembership != "" && m == notMembership) {
			continue
		}
		out = append(out, ev)
	}
	return out, nil
}

// MemberProfile is a joined member's per-room display name and avatar.
type MemberProfile struct {
	DisplayName *string `json:"display_name"`
	AvatarURL   *string `json:"avatar_url"`
}

// JoinedMembers returns the joined members of a room and their per-room
// profiles, for a user joined to the room.
func (r *Rooms) JoinedMembers(ctx context.Context, user spec.UserID, roomID string) (map[string]MemberProfile, error) {
	evs, err := r.Members(ctx, user, roomID, 0, spec.Join, "")
	if err != nil {
		return nil, err
	}
	out := map[string]MemberProfile{}
	for _, ev := range evs {
		var c struct {
			DisplayName *string `json:"displayname"`
			AvatarURL   *string `json:"avatar_url"`
		}
		_ = json.Unmarshal(ev.Content(), &c) // a member event with odd content still counts as joined
		out[*ev.StateKey()] = MemberProfile{DisplayName: c.DisplayName, AvatarURL: c.AvatarURL}
	}
	return out, nil
}

// checkJoined fails with ErrRoomNotFound or ErrForbidden unless user is
// joined to the room.
func (r *Rooms) checkJoined(ctx context.Context, roomID string, user spec.UserID) error {
	if _, err := roomVersion(ctx, reader{r.db}, roomID); err != nil {
		return err
	}
	return requireJoined(ctx, reader{r.db}, roomID, user)
}

// Forget hides a room the user has left from their future syncs
// (client-server API, "POST /rooms/{roomId}/forget").
func (r *Rooms) Forget(ctx context.Context, user spec.UserID, roomID string) error {
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

// Forgotten reports whether user has forgotten the room (and not rejoined).
func (r *Rooms) Forgotten(ctx context.Context, user spec.UserID, roomID string) (bool, error) {
	var n int
	err := r.db.QueryRow(ctx, `SELECT COUNT(*) FROM forgotten_rooms WHERE user_id = ? AND room_id = ?`, user.String(), roomID).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("look up forgotten room: %w", err)
	}
	return n > 0, nil
}

// UpdateProfile sends a new m.room.member join event, carrying the user's
// current profile, to every room the user is joined to. Each room is its own
// write: one room refusing does not hold back the others, and the first
// error is returned after trying them all.
func (r *Rooms) UpdateProfile(ctx context.Context, user spec.UserID) error {
	rooms, err := r.JoinedRooms(ctx, user)
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

// RoomMates returns the users joined to at least one room user is joined to,
// user included: whose device lists user's clients track.
func (r *Rooms) RoomMates(ctx context.Context, user spec.UserID) (map[string]bool, error) {
	rows, err := r.db.Query(ctx,
		`SELECT DISTINCT state_key FROM current_state WHERE type = 'm.room.member' AND membership = 'join' AND room_id IN (
			SELECT room_id FROM current_state WHERE type = 'm.room.member' AND state_key = ? AND membership = 'join')`, user.String())
	if err != nil {
		return nil, fmt.Errorf("load room mates: %w", err)
	}
	defer rows.Close()
	out := map[string]bool{user.String(): true}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("load room mates: %w", err)
		}
		out[id] = true
	}
	return out, rows.Err()
}

// CurrentMemberEvents returns the current m.room.member events of the given
// users in a room (those that have one). Sync uses it to lazy-load the
// members who sent timeline events; the caller has checked access.
func (r *Rooms) CurrentMemberEvents(ctx context.Context, roomID string, userIDs []string) ([]Event, error) {
	if len(userIDs) == 0 {
		return nil, nil
	}
	args := []any{roomID}
	for _, id := range userIDs {
		args = append(args, id)
	}
	return r.query(ctx, roomID,
		`SELECT e.stream_pos, e.json FROM current_state s JOIN events e ON e.event_id = s.event_id
		 WHERE s.room_id = ? AND s.type = 'm.room.member' AND s.state_key IN (?`+strings.Repeat(",?", len(userIDs)-1)+`)
		 ORDER BY e.stream_pos`, args...)
}

// CountUnread counts the messages others sent to a room after the user's
// read position, at most max of them: the unread count clients badge rooms
// with. The read position is the later of the event readUpTo (the user's
// read receipt; "" for none) and the user's own last message: who writes
// has read what came before.
func (r *Rooms) CountUnread(ctx context.Context, roomID string, user spec.UserID, readUpTo string, max int) (int, error) {
	var from int64
	err := r.db.QueryRow(ctx,
		`SELECT MAX(COALESCE((SELECT stream_pos FROM events WHERE event_id = ? AND room_id = ?), 0),
		            COALESCE((SELECT MAX(stream_pos) FROM events WHERE room_id = ? AND state_key IS NULL
		                      AND json_extract(json, '$.sender') = ?), 0))`,
		readUpTo, roomID, roomID, user.String()).Scan(&from)
	if err != nil {
		return 0, fmt.Errorf("find read position in %s: %w", roomID, err)
	}
	var n int
	err = r.db.QueryRow(ctx,
		`SELECT COUNT(*) FROM (SELECT 1 FROM events WHERE room_id = ? AND stream_pos > ? AND state_key IS NULL
			AND type IN ('m.room.message', 'm.room.encrypted', 'm.sticker') AND json_extract(json, '$.sender') != ? AND `+visible+`
			LIMIT ?)`, roomID, from, user.String(), max).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count unread in %s: %w", roomID, err)
	}
	return n, nil
}

// UsersOfServer returns the users of server joined to any room here: whose
// presence follows that server's reachability.
func (r *Rooms) UsersOfServer(ctx context.Context, server spec.ServerName) ([]spec.UserID, error) {
	rows, err := r.db.Query(ctx,
		`SELECT DISTINCT state_key FROM current_state WHERE type = 'm.room.member' AND membership = 'join' AND state_key LIKE ?`,
		"%:"+string(server))
	if err != nil {
		return nil, fmt.Errorf("users of %s: %w", server, err)
	}
	defer rows.Close()
	var out []spec.UserID
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("users of %s: %w", server, err)
		}
		if u, err := spec.NewUserID(id, true); err == nil && u.Domain() == server {
			out = append(out, *u)
		}
	}
	return out, rows.Err()
}

// SharesRoomWithLocalUser reports whether user (of another server) is joined
// to a room a user of this server is joined to.
func (r *Rooms) SharesRoomWithLocalUser(ctx context.Context, user spec.UserID) (bool, error) {
	var n int
	err := r.db.QueryRow(ctx,
		`SELECT COUNT(*) FROM current_state theirs JOIN current_state ours ON ours.room_id = theirs.room_id
		 WHERE theirs.type = 'm.room.member' AND theirs.state_key = ? AND theirs.membership = 'join'
		   AND ours.type = 'm.room.member' AND ours.membership = 'join' AND ours.state_key LIKE ?`,
		user.String(), "%:"+string(r.identity.ServerName)).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("rooms shared with %s: %w", user.String(), err)
	}
	return n > 0, nil
}
