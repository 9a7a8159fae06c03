package room

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"
)

// NewEventHook is told, inside the write that stores it, of each new
// timeline event of a room (a local send, or an event from another server
// that passed every check and is not backfilled history), with who may be
// notified of it. It returns what to run once the write has committed, or
// nil; an error fails the write. Push rules are evaluated here (package push),
// so that a notification is as durable as its event.
type NewEventHook func(ctx context.Context, tx *sql.Tx, ev gomatrixserverlib.PDU, pos StreamPos, audience Audience) (afterCommit func(), err error)

// Audience is the room as a new event finds it: its joined members and the
// powers that push rules consult. Read through the event's write.
type Audience struct {
	// Joined are the members joined after the event, with their display
	// names in the room ("" when none). Shared with other writes: read only.
	Joined []Member
	// PowerLevels returns the current power levels (the defaults when
	// unset), read through the write on first use: few events need them.
	// Valid only while the hook runs.
	PowerLevels func() (gomatrixserverlib.PowerLevelContent, error)
}

// Member is one joined member of a room.
type Member struct {
	UserID      spec.UserID
	DisplayName string
}

// announce tells the new-event hook of an event just stored at pos; joined
// are the room's joined members after it (joinedMembers).
func (r *core) announce(ctx context.Context, w *writeTx, ev gomatrixserverlib.PDU, pos StreamPos, joined []Member) error {
	if r.newEvent == nil {
		return nil
	}
	audience := r.audience(ctx, w, ev.RoomID().String(), joined)
	after, err := r.newEvent(ctx, w.tx, ev, pos, audience)
	if err != nil {
		return fmt.Errorf("announce %s: %w", ev.EventID(), err)
	}
	if after != nil {
		w.afterCommit = append(w.afterCommit, after)
	}
	return nil
}

// audience is the room's audience as of w, with its joined members; Joined
// may be shared with other writes (the auth cache): it must not be modified.
func (r *core) audience(ctx context.Context, w *writeTx, roomID string, joined []Member) Audience {
	var a Audience
	a.Joined = joined
	tx := w.tx
	var loaded *gomatrixserverlib.PowerLevelContent
	a.PowerLevels = func() (gomatrixserverlib.PowerLevelContent, error) {
		if loaded == nil {
			pl, err := r.powerLevels(ctx, tx, roomID)
			if err != nil {
				return pl, err
			}
			loaded = &pl
		}
		return *loaded, nil
	}
	return a
}

// joinedMembersAt returns the room's joined members and their display names,
// given the room's current state group in w (NULL: the room has none),
// through the auth cache (authcache.go) when it has one: they change only
// with its state.
func (r *core) joinedMembersAt(ctx context.Context, w *writeTx, roomID string, group sql.NullInt64) ([]Member, error) {
	if group.Valid {
		if m, ok := r.cachedMembers(w, roomID, group.Int64); ok {
			return m, nil
		}
	}
	joined, err := loadJoinedMembers(ctx, w.tx, roomID)
	if err != nil {
		return nil, err
	}
	if group.Valid {
		w.auth.noteMembers(roomID, group.Int64, joined)
	}
	return joined, nil
}

// cachedMembers returns a room's members at group as this write or the auth
// cache knows them.
func (r *core) cachedMembers(w *writeTx, roomID string, group int64) ([]Member, bool) {
	if m, ok := w.auth.lookupMembers(roomID, group); ok {
		return m, true
	}
	return r.auth.lookupMembers(roomID, group)
}

// joinedMembersAfter is joinedMembersAt for after, the state group after ev
// (the group before it, plus ev), now the room's current one. The members
// are derived from those at before when those are known: ev changes at most
// its target's entry, and reading the whole list again made every join cost
// the room's size (a join to a room of 1,000 read the 1,000 member events).
// The list keeps loadJoinedMembers' order, by user ID.
func (r *core) joinedMembersAfter(ctx context.Context, w *writeTx, ev gomatrixserverlib.PDU, before int64, after sql.NullInt64) ([]Member, error) {
	roomID := ev.RoomID().String()
	if !after.Valid || after.Int64 == before || ev.StateKey() == nil {
		return r.joinedMembersAt(ctx, w, roomID, after)
	}
	prev, ok := r.cachedMembers(w, roomID, before)
	if !ok {
		return r.joinedMembersAt(ctx, w, roomID, after)
	}
	joined, ok := withMemberEvent(prev, ev)
	if !ok {
		return r.joinedMembersAt(ctx, w, roomID, after)
	}
	w.auth.noteMembers(roomID, after.Int64, joined)
	return joined, nil
}

// withMemberEvent returns members (sorted by user ID, read only) as a state
// event leaves them: a new list when it is a member event, else members
// itself. ok is false when the event's display name is one only SQL's
// reading of it says how to show (not a string): the caller reads the list.
func withMemberEvent(members []Member, ev gomatrixserverlib.PDU) ([]Member, bool) {
	if ev.Type() != spec.MRoomMember {
		return members, true
	}
	membership, err := ev.Membership()
	if err != nil {
		return nil, false
	}
	var content struct {
		DisplayName *string `json:"displayname"`
	}
	if err := json.Unmarshal(ev.Content(), &content); err != nil {
		return nil, false
	}
	target := *ev.StateKey()
	i, found := slices.BinarySearchFunc(members, target, func(m Member, id string) int { return strings.Compare(m.UserID.String(), id) })
	out := slices.Clone(members)
	if found {
		out = slices.Delete(out, i, i+1)
	}
	user, err := spec.NewUserID(target, true)
	if membership != spec.Join || err != nil {
		return out, true // not joined, or not a user ID (loadJoinedMembers skips those too)
	}
	m := Member{UserID: *user}
	if content.DisplayName != nil {
		m.DisplayName = *content.DisplayName
	}
	return slices.Insert(out, i, m), true
}

// loadJoinedMembers reads the room's joined members from current_state.
func loadJoinedMembers(ctx context.Context, tx *sql.Tx, roomID string) ([]Member, error) {
	rows, err := tx.QueryContext(ctx,
		`SELECT s.state_key, COALESCE(json_extract(e.json, '$.content.displayname'), '')
		 FROM current_state s JOIN events e ON e.event_id = s.event_id
		 WHERE s.room_id = ? AND s.type = 'm.room.member' AND s.membership = 'join'
		 ORDER BY s.state_key`, roomID)
	if err != nil {
		return nil, fmt.Errorf("load members of %s: %w", roomID, err)
	}
	defer rows.Close()
	var joined []Member
	for rows.Next() {
		var id, displayName string
		if err := rows.Scan(&id, &displayName); err != nil {
			return nil, fmt.Errorf("load members of %s: %w", roomID, err)
		}
		user, err := spec.NewUserID(id, true)
		if err != nil {
			continue // not a user ID: never notified
		}
		joined = append(joined, Member{UserID: *user, DisplayName: displayName})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load members of %s: %w", roomID, err)
	}
	return joined, nil
}
