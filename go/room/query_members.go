package room

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"
)

// Reading who is in a room and how: memberships, members, invites, unread counts.

// Membership is a user's current membership of one room.
type Membership struct {
	Membership string    // join, invite, leave, ban or knock
	Pos        StreamPos // of the m.room.member event that set it
}

// membershipsSQL reads a user's memberships (parameter: the user) in the
// columns NewEventsBetween reads events in: 'membership', room, two NULLs,
// the membership and the position of the event that set it.
const membershipsSQL = `SELECT 'membership', s.room_id, NULL, NULL, s.membership, e.stream_pos
	FROM current_state s JOIN events e ON e.event_id = s.event_id
	WHERE s.type = 'm.room.member' AND s.state_key = ?`

// Memberships returns every room the user has a membership in.
func (r *Queryer) Memberships(ctx context.Context, user spec.UserID) (map[string]Membership, error) {
	rows, err := r.db.Query(ctx, membershipsSQL, user.String())
	if err != nil {
		return nil, fmt.Errorf("load memberships: %w", err)
	}
	defer rows.Close()
	out := map[string]Membership{}
	for rows.Next() {
		var kind, roomID string
		var unused any
		var m Membership
		if err := rows.Scan(&kind, &roomID, &unused, &unused, &m.Membership, &m.Pos); err != nil {
			return nil, fmt.Errorf("load memberships: %w", err)
		}
		out[roomID] = m
	}
	return out, rows.Err()
}

// JoinedRooms returns the IDs of the rooms user is joined to, sorted.
func (r *Queryer) JoinedRooms(ctx context.Context, user spec.UserID) ([]string, error) {
	all, err := r.Memberships(ctx, user)
	if err != nil {
		return nil, err
	}
	joined := []string{}
	for roomID, m := range all {
		if m.Membership == spec.Join {
			joined = append(joined, roomID)
		}
	}
	slices.Sort(joined)
	return joined, nil
}

// strippedStateTypes are the state events an invitee may see before joining
// (client-server API, "Stripped state").
var strippedStateTypes = []string{
	spec.MRoomCreate, spec.MRoomJoinRules, spec.MRoomName, "m.room.canonical_alias",
	"m.room.avatar", "m.room.encryption", spec.MRoomTopic,
}

// InviteState returns the stripped state shown with an invite: the room's
// public-facing state and the invite event itself. It asks no membership:
// the caller has checked that user is invited.
func (r *Queryer) InviteState(ctx context.Context, roomID string, user spec.UserID) ([]gomatrixserverlib.PDU, error) {
	out, err := r.StrippedState(ctx, roomID)
	if err != nil {
		return nil, err
	}
	v, err := r.committedRoomVersion(ctx, roomID)
	if err != nil {
		return nil, err
	}
	ev, err := stateEvent(ctx, reader{r.db}, v, roomID, spec.MRoomMember, user.String())
	if err != nil {
		return nil, err
	}
	return append(out, ev), nil
}

// EventContext is an event with what surrounds it in the room (client-server
// API, "GET /rooms/{roomId}/context/{eventId}").
type EventContext struct {
	Event  Event
	Before []Event // newest first
	After  []Event // oldest first
	State  []Event // the room's state at the event
}

// Context returns an event of a room and up to limit events around it, for
// a user who may see the event (history visibility; up to their leave once
// left): ErrEventNotFound for one they may not see.
func (r *Queryer) Context(ctx context.Context, user spec.UserID, roomID, eventID string, limit int) (EventContext, error) {
	access, err := readAccessOf(ctx, reader{r.db}, roomID, user)
	if err != nil {
		return EventContext{}, err
	}
	var pos int64
	err = r.db.QueryRow(ctx, `SELECT stream_pos FROM events WHERE event_id = ? AND room_id = ?`, eventID, roomID).Scan(&pos)
	if errors.Is(err, sql.ErrNoRows) {
		return EventContext{}, fmt.Errorf("%w: %s in %s", ErrEventNotFound, eventID, roomID)
	}
	if err != nil {
		return EventContext{}, fmt.Errorf("look up %s: %w", eventID, err)
	}
	at := StreamPos(pos)
	evs, err := r.query(ctx, roomID, `SELECT stream_pos, event_id, json FROM events WHERE event_id = ?`, eventID)
	if err == nil {
		evs, err = r.visibleToUser(ctx, roomID, user, access, evs)
	}
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
// when set, for a user joined to the room; for one who left, at is at most
// their leave.
func (r *Queryer) Members(ctx context.Context, user spec.UserID, roomID string, at StreamPos, membership, notMembership string) ([]Event, error) {
	access, err := readAccessOf(ctx, reader{r.db}, roomID, user)
	if err != nil {
		return nil, err
	}
	if !access.joined() && (at == 0 || at > access.upTo) {
		at = access.upTo
	}
	var state []Event
	if at > 0 {
		state, err = r.StateBetween(ctx, roomID, 0, at+1)
	} else {
		state, err = r.CurrentMembers(ctx, roomID)
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
func (r *Queryer) JoinedMembers(ctx context.Context, user spec.UserID, roomID string) (map[string]MemberProfile, error) {
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

// Forgotten reports whether user has forgotten the room (and not rejoined).
func (r *Queryer) Forgotten(ctx context.Context, user spec.UserID, roomID string) (bool, error) {
	var n int
	err := r.db.QueryRow(ctx, `SELECT COUNT(*) FROM forgotten_rooms WHERE user_id = ? AND room_id = ?`, user.String(), roomID).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("look up forgotten room: %w", err)
	}
	return n > 0, nil
}

// RoomMates returns the users joined to at least one room user is joined to,
// user included: whose device lists user's clients track.
func (r *Queryer) RoomMates(ctx context.Context, user spec.UserID) (map[string]bool, error) {
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

// CurrentMembers returns every current m.room.member event of a room. The
// caller has checked access: sync, which decided from its snapshot of the
// user's rooms, must not fail because the user left one meanwhile.
func (r *Queryer) CurrentMembers(ctx context.Context, roomID string) ([]Event, error) {
	return r.query(ctx, roomID,
		`SELECT e.stream_pos, e.event_id, e.json FROM current_state s JOIN events e ON e.event_id = s.event_id
		 WHERE s.room_id = ? AND s.type = 'm.room.member' ORDER BY e.stream_pos`, roomID)
}

// CurrentMemberEvents returns the current m.room.member events of the given
// users in a room (those that have one). Sync uses it to lazy-load the
// members who sent timeline events; the caller has checked access.
func (r *Queryer) CurrentMemberEvents(ctx context.Context, roomID string, userIDs []string) ([]Event, error) {
	if len(userIDs) == 0 {
		return nil, nil
	}
	args := []any{roomID}
	for _, id := range userIDs {
		args = append(args, id)
	}
	return r.query(ctx, roomID,
		`SELECT e.stream_pos, e.event_id, e.json FROM current_state s JOIN events e ON e.event_id = s.event_id
		 WHERE s.room_id = ? AND s.type = 'm.room.member' AND s.state_key IN (?`+strings.Repeat(",?", len(userIDs)-1)+`)
		 ORDER BY e.stream_pos`, args...)
}

// InviteSender returns who invited user to the room, if user's current
// membership is an invite.
func (r *Queryer) InviteSender(ctx context.Context, roomID string, user spec.UserID) (spec.UserID, bool) {
	var id, version string
	var raw []byte
	err := r.db.QueryRow(ctx,
		`SELECT s.event_id, e.json, m.room_version FROM current_state s JOIN events e ON e.event_id = s.event_id JOIN rooms m ON m.room_id = s.room_id
		 WHERE s.room_id = ? AND s.type = 'm.room.member' AND s.state_key = ? AND s.membership = 'invite'`,
		roomID, user.String()).Scan(&id, &raw, &version)
	if err != nil {
		return spec.UserID{}, false
	}
	v, err := gomatrixserverlib.GetRoomVersion(gomatrixserverlib.RoomVersion(version))
	if err != nil {
		return spec.UserID{}, false
	}
	ev, err := loadEvent(v, id, raw)
	if err != nil {
		return spec.UserID{}, false
	}
	sender, err := spec.NewUserID(string(ev.SenderID()), true)
	if err != nil {
		return spec.UserID{}, false
	}
	return *sender, true
}

// RequireJoined fails with ErrForbidden unless user is joined to the room.
func (r *Queryer) RequireJoined(ctx context.Context, roomID string, user spec.UserID) error {
	return requireJoined(ctx, reader{r.db}, roomID, user)
}

// MembershipOf returns user's current membership of a room, "" if none.
func (r *Queryer) MembershipOf(ctx context.Context, roomID string, user spec.UserID) (string, error) {
	return membership(ctx, reader{r.db}, roomID, user)
}

// InviteEvent returns the m.room.member event behind user's current
// membership, whatever it is (for an invite: the invite).
func (r *Queryer) InviteEvent(ctx context.Context, roomID string, user spec.UserID) (gomatrixserverlib.PDU, error) {
	v, err := r.committedRoomVersion(ctx, roomID)
	if err != nil {
		return nil, err
	}
	return stateEvent(ctx, reader{r.db}, v, roomID, spec.MRoomMember, user.String())
}

// SharesRoomWithLocalUser reports whether user (of another server) is joined
// to a room a user of this server is joined to.
func (r *Queryer) SharesRoomWithLocalUser(ctx context.Context, user spec.UserID) (bool, error) {
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

// MemberChange is a user's newest membership in one room within a stream range.
type MemberChange struct {
	RoomID, UserID, Membership string
}

// inUsersRooms is true for an event in a room the user (the statement's
// parameter) is or was in.
const inUsersRooms = `room_id IN (SELECT room_id FROM current_state WHERE type = 'm.room.member' AND state_key = ?)`

// MemberChanges returns the membership changes in the stream range (after,
// upTo] in the rooms user is or was in, the newest per room and user. Sync
// derives presence and the device_lists of an incremental sync from it.
func (r *Queryer) MemberChanges(ctx context.Context, user spec.UserID, after, upTo StreamPos) ([]MemberChange, error) {
	if after >= upTo { // an empty range: a sync woken by other news asks it every time
		return nil, nil
	}
	rows, err := r.db.Query(ctx,
		`SELECT room_id, state_key, json_extract(json, '$.content.membership') FROM events
		 WHERE type = 'm.room.member' AND stream_pos > ? AND stream_pos <= ? AND `+visible+` AND `+inUsersRooms+`
		 ORDER BY stream_pos`,
		int64(after), int64(upTo), user.String())
	if err != nil {
		return nil, fmt.Errorf("load membership changes: %w", err)
	}
	defer rows.Close()
	var changes memberChanges
	for rows.Next() {
		var c MemberChange
		var m sql.NullString
		if err := rows.Scan(&c.RoomID, &c.UserID, &m); err != nil {
			return nil, fmt.Errorf("load membership changes: %w", err)
		}
		c.Membership = m.String
		changes.add(c)
	}
	return changes.list, rows.Err()
}

// NewEvents is what a short stream range holds for a user's /sync.
type NewEvents struct {
	// Rooms are the rooms with events in the range.
	Rooms map[string]bool
	// MemberChanges are as MemberChanges returns them.
	MemberChanges []MemberChange
	// Memberships are the user's memberships now, as Memberships returns them.
	Memberships map[string]Membership
	// Timelines are the rooms' timelines in the range, as Timeline gives
	// them (none limited), when asked and the range is no longer than the
	// limit; nil otherwise. A room without events a client may see has none.
	Timelines map[string][]Event
}

// TimelineRead asks NewEventsBetween for the rooms' timelines too, as
// Timeline(roomID, Reader, DeviceID, after, upTo, Limit) would give them.
type TimelineRead struct {
	Reader   spec.UserID
	DeviceID string
	Limit    int
}

// NewEventsBetween reads every event in (after, upTo] once, for the rooms
// with events and MemberChanges together, the user's memberships beside
// them, and with tl the timelines when the range holds no more events than
// their limit: one statement where /sync asked one per room with events and
// three more (each a crossing of the storage bridge in wasm). For short
// ranges (an incremental /sync).
func (r *Queryer) NewEventsBetween(ctx context.Context, user spec.UserID, after, upTo StreamPos, tl *TimelineRead) (NewEvents, error) {
	if after >= upTo { // an incremental /sync with no new event: the memberships alone
		memberships, err := r.Memberships(ctx, user)
		return NewEvents{Rooms: map[string]bool{}, Memberships: memberships}, err
	}
	news := NewEvents{Rooms: map[string]bool{}, Memberships: map[string]Membership{}}
	// Every room's events in the range are at most upTo - after: with a
	// limit no smaller, each timeline is all of its room's visible events.
	withTimelines := tl != nil && int64(upTo-after) <= int64(tl.Limit)
	// Ordered by position: the newest change per room and user is the last,
	// and each timeline comes oldest first.
	u := user.String()
	// An event a client may see, in a room the user is or was in: mine is
	// the user's member row, looked up for each event (inUsersRooms, once
	// per use in the statement, built the user's list of rooms each time).
	const showable = `(` + visible + ` AND mine.room_id IS NOT NULL)`
	columns := `'event', e.room_id, e.type = 'm.room.member' AND ` + showable + `, e.state_key,
		   CASE WHEN e.type = 'm.room.member' THEN json_extract(e.json, '$.content.membership') END, e.stream_pos`
	memberships := membershipsSQL
	var args []any
	if withTimelines {
		// Timeline's columns (queryWithTimelineColumns), for the events it shows.
		columns += `, CASE WHEN ` + showable + ` THEN e.event_id END, CASE WHEN ` + showable + ` THEN e.json END,
		   (SELECT t.txn_id FROM transaction_ids t WHERE t.stream_pos = e.stream_pos AND t.localpart = ? AND t.device_id = ?),
		   CASE WHEN ` + showable + ` THEN ` + childKindsSQL + ` END`
		memberships = `SELECT m.*, NULL, NULL, NULL, NULL FROM (` + membershipsSQL + `) m`
		args = append(args, tl.Reader.Local(), tl.DeviceID)
		news.Timelines = map[string][]Event{}
	}
	q := `SELECT ` + columns + ` FROM events e
		 LEFT JOIN current_state mine ON mine.room_id = e.room_id AND mine.type = 'm.room.member' AND mine.state_key = ?
		 WHERE e.stream_pos > ? AND e.stream_pos <= ?
		 UNION ALL
		 ` + memberships + `
		 ORDER BY 6`
	args = append(args, u, int64(after), int64(upTo), u)
	var shown []timelineRow
	err := func() error {
		rows, err := r.db.Query(ctx, q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		var changes memberChanges
		for rows.Next() {
			var kind, roomID string
			var change sql.NullBool
			var member, membership sql.NullString
			var pos StreamPos
			dest := []any{&kind, &roomID, &change, &member, &membership, &pos}
			var row timelineRow
			var eventID, txnID, childKinds sql.NullString
			if withTimelines {
				dest = append(dest, &eventID, &row.raw, &txnID, &childKinds)
			}
			if err := rows.Scan(dest...); err != nil {
				return err
			}
			if kind == "membership" {
				news.Memberships[roomID] = Membership{Membership: membership.String, Pos: pos}
				continue
			}
			news.Rooms[roomID] = true
			if change.Bool {
				changes.add(MemberChange{RoomID: roomID, UserID: member.String, Membership: membership.String})
			}
			if eventID.Valid {
				row.roomID, row.id, row.pos, row.txnID, row.kinds = roomID, eventID.String, int64(pos), txnID.String, childKinds.String
				shown = append(shown, row)
			}
		}
		news.MemberChanges = changes.list
		return rows.Err()
	}()
	if err != nil {
		return news, fmt.Errorf("read the events after %d: %w", after, err)
	}
	if err := r.warmRows(ctx, shown); err != nil {
		return news, err
	}
	for _, row := range shown {
		if err := r.appendTimelineEvent(ctx, news.Timelines, row); err != nil {
			return news, err
		}
	}
	return news, nil
}

// memberChanges keeps the newest change per room and user, in the order each
// pair first changed.
type memberChanges struct {
	list   []MemberChange
	newest map[[2]string]int
}

func (m *memberChanges) add(c MemberChange) {
	key := [2]string{c.RoomID, c.UserID}
	if i, ok := m.newest[key]; ok {
		m.list[i] = c
		return
	}
	if m.newest == nil {
		m.newest = map[[2]string]int{}
	}
	m.newest[key] = len(m.list)
	m.list = append(m.list, c)
}
