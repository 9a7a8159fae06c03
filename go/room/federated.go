package room

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"

	"hearth/go/identity"
)

// What other servers may read of a room, and what this server builds for
// them. Package federation checks who asks; these only read.

// RoomVersion returns a room's version, or ErrRoomNotFound.
func (r *Rooms) RoomVersion(ctx context.Context, roomID string) (gomatrixserverlib.IRoomVersion, error) {
	return roomVersion(ctx, reader{r.db}, roomID)
}

// Template builds an event at the room's forward extremities, with auth
// events from current state, for sender (who may be of another server:
// make_join and make_leave), and checks that the auth rules would allow it.
// The builder is the event template to sign; the caller builds it.
func (r *Rooms) Template(ctx context.Context, roomID string, sender spec.UserID, evType string, stateKey *string, content json.RawMessage) (*gomatrixserverlib.EventBuilder, error) {
	q := reader{r.db}
	v, err := roomVersion(ctx, q, roomID)
	if err != nil {
		return nil, err
	}
	proto := gomatrixserverlib.ProtoEvent{
		SenderID: sender.String(), RoomID: roomID, Type: evType, StateKey: stateKey,
		Content: spec.RawJSON(content), Version: v,
	}
	prevIDs, depth, err := extremities(ctx, q, roomID)
	if err != nil {
		return nil, err
	}
	if len(prevIDs) == 0 {
		return nil, fmt.Errorf("%w: this server holds no events of %s", ErrRoomNotFound, roomID)
	}
	proto.PrevEvents, proto.Depth = prevIDs, depth+1
	auth, err := r.authEventsFor(ctx, q, v, &proto)
	if err != nil {
		return nil, err
	}
	builder := v.NewEventBuilderFromProtoEvent(&proto)
	if err := builder.AddAuthEvents(auth); err != nil {
		return nil, fmt.Errorf("select auth events: %w", err)
	}
	// Build a throwaway copy, signed by this server, only to run the auth rules.
	probe, err := builder.Build(r.now(), r.identity.ServerName, identity.KeyID, r.identity.Key)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadEvent, err)
	}
	if err := gomatrixserverlib.Allowed(probe, auth, userIDForSender); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrForbidden, err)
	}
	return builder, nil
}

// Sign builds a template into an event signed by this server.
func (r *Rooms) Sign(builder *gomatrixserverlib.EventBuilder) (gomatrixserverlib.PDU, error) {
	ev, err := builder.Build(r.now(), r.identity.ServerName, identity.KeyID, r.identity.Key)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadEvent, err)
	}
	return ev, nil
}

// Event returns a stored, accepted event of a room.
func (r *Rooms) Event(ctx context.Context, roomID, eventID string) (gomatrixserverlib.PDU, error) {
	v, err := roomVersion(ctx, reader{r.db}, roomID)
	if err != nil {
		return nil, err
	}
	events, err := loadEvents(ctx, reader{r.db}, v, []string{eventID})
	if err != nil {
		return nil, err
	}
	ev, ok := events[eventID]
	if !ok || ev.Rejected || ev.RoomID().String() != roomID {
		return nil, fmt.Errorf("%w: %s", ErrEventNotFound, eventID)
	}
	return ev.PDU, nil
}

// StateBefore returns the room state before an event and the auth chain of
// that state (state and state_ids, and the answer to send_join).
func (r *Rooms) StateBefore(ctx context.Context, roomID, eventID string) (state, chain []gomatrixserverlib.PDU, err error) {
	q := reader{r.db}
	v, err := roomVersion(ctx, q, roomID)
	if err != nil {
		return nil, nil, err
	}
	events, err := loadEvents(ctx, q, v, []string{eventID})
	if err != nil {
		return nil, nil, err
	}
	ev, ok := events[eventID]
	if !ok || ev.Rejected || ev.RoomID().String() != roomID || !ev.StateBefore.Valid {
		return nil, nil, fmt.Errorf("%w: no state known at %s", ErrEventNotFound, eventID)
	}
	s, err := loadState(ctx, q, ev.StateBefore.Int64)
	if err != nil {
		return nil, nil, err
	}
	ids := slices.Collect(maps.Values(s))
	stateEvents, err := loadEvents(ctx, q, v, ids)
	if err != nil {
		return nil, nil, err
	}
	for _, id := range ids {
		if se, ok := stateEvents[id]; ok {
			state = append(state, se.PDU)
		}
	}
	chain, _, err = authChainOf(ctx, q, v, state)
	return state, chain, err
}

// AuthChain returns the full auth chain of events (event_auth).
func (r *Rooms) AuthChain(ctx context.Context, roomID string, eventIDs []string) ([]gomatrixserverlib.PDU, error) {
	v, err := roomVersion(ctx, reader{r.db}, roomID)
	if err != nil {
		return nil, err
	}
	chain, _, err := authChain(ctx, reader{r.db}, v, eventIDs)
	return chain, err
}

// WalkBack returns up to limit accepted events reached by walking prev_events
// back from the events from, breadth first, never past the events in stop nor
// below minDepth. With includeFrom, the events from are part of the answer
// (backfill); without, only their ancestors are (get_missing_events).
func (r *Rooms) WalkBack(ctx context.Context, roomID string, from, stop []string, limit int, minDepth int64, includeFrom bool) ([]gomatrixserverlib.PDU, error) {
	q := reader{r.db}
	v, err := roomVersion(ctx, q, roomID)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, id := range stop {
		seen[id] = true
	}
	var out []gomatrixserverlib.PDU
	frontier := from
	if !includeFrom {
		for _, id := range from {
			seen[id] = true
		}
		if frontier, err = prevEventsOf(ctx, q, v, from); err != nil {
			return nil, err
		}
	}
	for len(frontier) > 0 && len(out) < limit {
		var next []string
		for _, id := range frontier {
			if !seen[id] {
				seen[id] = true
				next = append(next, id)
			}
		}
		slices.Sort(next)
		events, err := loadEvents(ctx, q, v, next)
		if err != nil {
			return nil, err
		}
		frontier = nil
		for _, id := range next {
			ev, ok := events[id]
			if !ok || ev.Rejected || ev.RoomID().String() != roomID || ev.Depth() < minDepth || len(out) >= limit {
				continue
			}
			out = append(out, ev.PDU)
			frontier = append(frontier, ev.PrevEventIDs()...)
		}
	}
	return out, nil
}

// prevEventsOf returns the prev events of the stored events among ids.
func prevEventsOf(ctx context.Context, q querier, v gomatrixserverlib.IRoomVersion, ids []string) ([]string, error) {
	events, err := loadEvents(ctx, q, v, ids)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, id := range ids {
		if ev, ok := events[id]; ok {
			out = append(out, ev.PrevEventIDs()...)
		}
	}
	return out, nil
}

// Extremities returns the room's forward extremities.
func (r *Rooms) Extremities(ctx context.Context, roomID string) ([]string, error) {
	ids, _, err := extremities(ctx, reader{r.db}, roomID)
	return ids, err
}

// UnknownEvents returns those of ids this server does not hold in the room's
// timeline (not at all, or only as outliers): what Receive would not call a
// Duplicate.
func (r *Rooms) UnknownEvents(ctx context.Context, roomID string, ids []string) ([]string, error) {
	v, err := roomVersion(ctx, reader{r.db}, roomID)
	if err != nil {
		return nil, err
	}
	held, err := loadEvents(ctx, reader{r.db}, v, ids)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, id := range ids {
		if e, ok := held[id]; !ok || e.Outlier && !e.Rejected {
			out = append(out, id)
		}
	}
	return out, nil
}

// BackwardExtremities returns the prev events of the room's timeline that this
// server does not hold: where backfill continues from.
func (r *Rooms) BackwardExtremities(ctx context.Context, roomID string) ([]string, error) {
	rows, err := r.db.Query(ctx,
		`SELECT DISTINCT m.prev_id FROM missing_prev_events m JOIN events e ON e.stream_pos = m.event_pos
		 WHERE e.room_id = ? AND e.rejected IS NULL ORDER BY m.prev_id`, roomID)
	if err != nil {
		return nil, fmt.Errorf("load backward extremities: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("load backward extremities: %w", err)
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// JoinedServers returns the servers with a joined member in the room's
// current state, sorted.
func (r *Rooms) JoinedServers(ctx context.Context, roomID string) ([]spec.ServerName, error) {
	return r.serversOf(ctx,
		`SELECT state_key FROM current_state WHERE room_id = ? AND type = 'm.room.member' AND membership = 'join'`, roomID)
}

// AllJoinedServers returns the servers with a joined member in any room
// this server is in, sorted: the peers it knows through rooms.
func (r *Rooms) AllJoinedServers(ctx context.Context) ([]spec.ServerName, error) {
	return r.serversOf(ctx,
		`SELECT DISTINCT s.state_key FROM current_state s WHERE s.type = 'm.room.member' AND s.membership = 'join'
		   AND s.room_id IN (SELECT room_id FROM current_state WHERE type = 'm.room.member' AND membership = 'join' AND state_key LIKE ?)`,
		"%:"+string(r.identity.ServerName))
}

// SharedRooms returns the rooms where both this server and server have a
// joined member, sorted.
func (r *Rooms) SharedRooms(ctx context.Context, server spec.ServerName) ([]string, error) {
	// GLOB, not LIKE: server names (peer IDs) are case-sensitive.
	rows, err := r.db.Query(ctx,
		`SELECT DISTINCT theirs.room_id FROM current_state theirs JOIN current_state ours ON ours.room_id = theirs.room_id
		 WHERE theirs.type = 'm.room.member' AND theirs.membership = 'join' AND theirs.state_key GLOB '*:' || ?
		   AND ours.type = 'm.room.member' AND ours.membership = 'join' AND ours.state_key GLOB '*:' || ?
		 ORDER BY theirs.room_id`, string(server), string(r.identity.ServerName))
	if err != nil {
		return nil, fmt.Errorf("load rooms shared with %s: %w", server, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var roomID string
		if err := rows.Scan(&roomID); err != nil {
			return nil, fmt.Errorf("load rooms shared with %s: %w", server, err)
		}
		out = append(out, roomID)
	}
	return out, rows.Err()
}

// serversOf runs a query listing user IDs and returns their servers, sorted, once each.
func (r *Rooms) serversOf(ctx context.Context, query string, args ...any) ([]spec.ServerName, error) {
	rows, err := r.db.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("load joined servers: %w", err)
	}
	defer rows.Close()
	set := map[spec.ServerName]bool{}
	for rows.Next() {
		var userID string
		if err := rows.Scan(&userID); err != nil {
			return nil, fmt.Errorf("load joined servers: %w", err)
		}
		if _, server, err := gomatrixserverlib.SplitID('@', userID); err == nil {
			set[server] = true
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load joined servers: %w", err)
	}
	out := keys(set)
	slices.Sort(out)
	return out, nil
}

// ServerJoined reports whether server has a joined member in the room: the
// condition for reading its history and state over federation.
func (r *Rooms) ServerJoined(ctx context.Context, roomID string, server spec.ServerName) (bool, error) {
	servers, err := r.JoinedServers(ctx, roomID)
	if err != nil {
		return false, err
	}
	return slices.Contains(servers, server), nil
}

// StrippedState returns the public-facing state events sent along with an
// invite (client-server API, "Stripped state").
func (r *Rooms) StrippedState(ctx context.Context, roomID string) ([]gomatrixserverlib.PDU, error) {
	v, err := roomVersion(ctx, reader{r.db}, roomID)
	if err != nil {
		return nil, err
	}
	var out []gomatrixserverlib.PDU
	for _, t := range strippedStateTypes {
		ev, err := stateEvent(ctx, reader{r.db}, v, roomID, t, "")
		if errors.Is(err, ErrEventNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, ev)
	}
	return out, nil
}

// RemoteInviteState returns the stripped state another server sent with an
// invite of user to a room this server is not in (a JSON array), if any.
func (r *Rooms) RemoteInviteState(ctx context.Context, roomID string, user spec.UserID) (json.RawMessage, bool, error) {
	var raw []byte
	err := r.db.QueryRow(ctx, `SELECT events FROM invite_state WHERE room_id = ? AND user_id = ?`, roomID, user.String()).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("load invite state: %w", err)
	}
	return raw, true, nil
}

// PublicRoom is one entry of the public room directory.
type PublicRoom struct {
	RoomID           string `json:"room_id"`
	Name             string `json:"name,omitempty"`
	Topic            string `json:"topic,omitempty"`
	CanonicalAlias   string `json:"canonical_alias,omitempty"`
	NumJoinedMembers int    `json:"num_joined_members"`
	WorldReadable    bool   `json:"world_readable"`
	GuestCanJoin     bool   `json:"guest_can_join"`
	JoinRule         string `json:"join_rule"`
}

// PublicRooms lists the rooms this server is in whose join rule is public,
// most members first.
func (r *Rooms) PublicRooms(ctx context.Context) ([]PublicRoom, error) {
	rows, err := r.db.Query(ctx,
		`SELECT s.room_id, e.json, m.room_version FROM current_state s JOIN events e ON e.event_id = s.event_id
		 JOIN rooms m ON m.room_id = s.room_id
		 WHERE s.type = 'm.room.join_rules' AND s.state_key = ''`)
	if err != nil {
		return nil, fmt.Errorf("load join rules: %w", err)
	}
	var candidates []string
	for rows.Next() {
		var roomID, version string
		var raw []byte
		if err := rows.Scan(&roomID, &raw, &version); err != nil {
			rows.Close()
			return nil, fmt.Errorf("load join rules: %w", err)
		}
		v, err := gomatrixserverlib.GetRoomVersion(gomatrixserverlib.RoomVersion(version))
		if err != nil {
			continue
		}
		ev, err := loadEvent(v, raw)
		if err != nil {
			continue
		}
		if rule, err := ev.JoinRule(); err == nil && rule == spec.Public {
			candidates = append(candidates, roomID)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load join rules: %w", err)
	}
	out := []PublicRoom{}
	for _, roomID := range candidates {
		resident, err := r.Resident(ctx, roomID)
		if err != nil {
			return nil, err
		}
		if !resident {
			continue
		}
		pr, err := r.publicRoom(ctx, roomID)
		if err != nil {
			return nil, err
		}
		out = append(out, pr)
	}
	slices.SortFunc(out, func(a, b PublicRoom) int {
		if a.NumJoinedMembers != b.NumJoinedMembers {
			return b.NumJoinedMembers - a.NumJoinedMembers
		}
		return strings.Compare(a.RoomID, b.RoomID)
	})
	return out, nil
}

func (r *Rooms) publicRoom(ctx context.Context, roomID string) (PublicRoom, error) {
	pr := PublicRoom{RoomID: roomID, JoinRule: spec.Public}
	if err := r.db.QueryRow(ctx,
		`SELECT COUNT(*) FROM current_state WHERE room_id = ? AND type = 'm.room.member' AND membership = 'join'`,
		roomID).Scan(&pr.NumJoinedMembers); err != nil {
		return pr, fmt.Errorf("count members: %w", err)
	}
	v, err := roomVersion(ctx, reader{r.db}, roomID)
	if err != nil {
		return pr, err
	}
	field := func(evType, key string) string {
		ev, err := stateEvent(ctx, reader{r.db}, v, roomID, evType, "")
		if err != nil {
			return ""
		}
		var content map[string]any
		if json.Unmarshal(ev.Content(), &content) != nil {
			return ""
		}
		s, _ := content[key].(string)
		return s
	}
	pr.Name = field(spec.MRoomName, "name")
	pr.Topic = field(spec.MRoomTopic, "topic")
	pr.CanonicalAlias = field("m.room.canonical_alias", "alias")
	pr.WorldReadable = field(spec.MRoomHistoryVisibility, "history_visibility") == "world_readable"
	pr.GuestCanJoin = field("m.room.guest_access", "guest_access") == "can_join"
	return pr, nil
}

// RoomOfEvent finds which room a stored event is in (GET /event/{eventId}
// names no room).
func (r *Rooms) RoomOfEvent(ctx context.Context, eventID string) (string, error) {
	var roomID string
	err := r.db.QueryRow(ctx, `SELECT room_id FROM events WHERE event_id = ? AND rejected IS NULL`, eventID).Scan(&roomID)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("%w: %s", ErrEventNotFound, eventID)
	}
	if err != nil {
		return "", fmt.Errorf("look up event %s: %w", eventID, err)
	}
	return roomID, nil
}

// InviteSender returns who invited user to the room, if user's current
// membership is an invite.
func (r *Rooms) InviteSender(ctx context.Context, roomID string, user spec.UserID) (spec.UserID, bool) {
	var raw []byte
	var version string
	err := r.db.QueryRow(ctx,
		`SELECT e.json, m.room_version FROM current_state s JOIN events e ON e.event_id = s.event_id JOIN rooms m ON m.room_id = s.room_id
		 WHERE s.room_id = ? AND s.type = 'm.room.member' AND s.state_key = ? AND s.membership = 'invite'`,
		roomID, user.String()).Scan(&raw, &version)
	if err != nil {
		return spec.UserID{}, false
	}
	v, err := gomatrixserverlib.GetRoomVersion(gomatrixserverlib.RoomVersion(version))
	if err != nil {
		return spec.UserID{}, false
	}
	ev, err := loadEvent(v, raw)
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
func (r *Rooms) RequireJoined(ctx context.Context, roomID string, user spec.UserID) error {
	return requireJoined(ctx, reader{r.db}, roomID, user)
}

// MembershipOf returns user's current membership of a room, "" if none.
func (r *Rooms) MembershipOf(ctx context.Context, roomID string, user spec.UserID) (string, error) {
	return membership(ctx, reader{r.db}, roomID, user)
}

// InviteEvent returns the m.room.member event behind user's current
// membership, whatever it is (for an invite: the invite).
func (r *Rooms) InviteEvent(ctx context.Context, roomID string, user spec.UserID) (gomatrixserverlib.PDU, error) {
	v, err := roomVersion(ctx, reader{r.db}, roomID)
	if err != nil {
		return nil, err
	}
	return stateEvent(ctx, reader{r.db}, v, roomID, spec.MRoomMember, user.String())
}
