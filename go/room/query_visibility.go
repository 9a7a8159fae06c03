package room

import (
	"context"
	"encoding/json"
	"errors"
	"strings"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"
)

// History visibility for other servers (client-server API, "Room History
// Visibility"; server-server API, "Retrieving events": a server only gets
// what its users may see). As Synapse applies it to servers, judged on the
// state after each event:
//
//   - world_readable and shared: visible to every server in the room;
//   - invited: visible if one of the server's users was invited or joined;
//   - joined: visible if one of the server's users was joined.
//
// So the event that joins a server's first user is visible to it, and what
// came before is not, for joined and invited rooms.

// History visibility values (m.room.history_visibility).
const (
	visibilityWorldReadable = "world_readable"
	visibilityShared        = "shared"
	visibilityInvited       = "invited"
	visibilityJoined        = "joined"
)

// VisibleToServer reports which of a room's events the users of server may
// see, by event ID. Events whose state this server never computed
// (backfilled or outliers) are judged by the room's current visibility
// alone: visible only if it is shared or world_readable.
func (r *Queryer) VisibleToServer(ctx context.Context, roomID string, server spec.ServerName, eventIDs []string) (map[string]bool, error) {
	q := reader{r.db}
	v, err := r.committedRoomVersion(ctx, roomID)
	if err != nil {
		return nil, err
	}
	events, err := r.loadEvents(ctx, q, v, eventIDs)
	if err != nil {
		return nil, err
	}
	byGroup := map[int64]bool{}
	var current *bool
	out := make(map[string]bool, len(eventIDs))
	for _, id := range eventIDs {
		ev, ok := events[id]
		if !ok || ev.RoomID().String() != roomID {
			continue
		}
		if !ev.StateAfter.Valid {
			if current == nil {
				vis, err := r.currentVisibility(ctx, v, roomID)
				if err != nil {
					return nil, err
				}
				open := openToAll(vis)
				current = &open
			}
			out[id] = *current
			continue
		}
		visible, known := byGroup[ev.StateAfter.Int64]
		if !known {
			if visible, err = r.visibleInGroup(ctx, q, v, ev.StateAfter.Int64, server); err != nil {
				return nil, err
			}
			byGroup[ev.StateAfter.Int64] = visible
		}
		out[id] = visible
	}
	return out, nil
}

// visibleInGroup applies the rules above to the state of one group.
func (r *core) visibleInGroup(ctx context.Context, q querier, v gomatrixserverlib.IRoomVersion, group int64, server spec.ServerName) (bool, error) {
	s, err := loadState(ctx, q, group)
	if err != nil {
		return false, err
	}
	visibilityID := s[stateKey{spec.MRoomHistoryVisibility, ""}]
	var memberIDs []string
	suffix := ":" + string(server)
	for k, id := range s {
		if k.Type == spec.MRoomMember && strings.HasSuffix(k.StateKey, suffix) {
			memberIDs = append(memberIDs, id)
		}
	}
	events, err := r.loadEvents(ctx, q, v, append(memberIDs, visibilityID))
	if err != nil {
		return false, err
	}
	vis := visibilityIn(events, visibilityID)
	if openToAll(vis) {
		return true, nil
	}
	for _, id := range memberIDs {
		m, err := events[id].Membership()
		if err != nil {
			continue
		}
		if memberSees(m, vis) {
			return true, nil
		}
	}
	return false, nil
}

// currentVisibility returns a room's history_visibility now.
func (r *Queryer) currentVisibility(ctx context.Context, v gomatrixserverlib.IRoomVersion, roomID string) (string, error) {
	ev, err := stateEvent(ctx, reader{r.db}, v, roomID, spec.MRoomHistoryVisibility, "")
	if errors.Is(err, ErrEventNotFound) {
		return visibilityShared, nil // the spec's default
	}
	if err != nil {
		return "", err
	}
	return visibilityOf(ev), nil
}

// visibilityIn is the visibility a group's state sets: its
// m.room.history_visibility event (id, loaded into events), or the spec's
// default, shared, when the room has none.
func visibilityIn(events map[string]storedEvent, id string) string {
	if ev, ok := events[id]; ok {
		return visibilityOf(ev.PDU)
	}
	return visibilityShared
}

// openToAll reports whether vis lets anyone who ever joins see the events.
func openToAll(vis string) bool { return vis == visibilityShared || vis == visibilityWorldReadable }

// memberSees reports whether a user with membership m at an event sees it
// under the stricter visibilities (invited, joined).
func memberSees(m, vis string) bool {
	return m == spec.Join || (m == spec.Invite && vis == visibilityInvited)
}

// visibilityOf reads an m.room.history_visibility event; unknown values
// count as the most restrictive.
func visibilityOf(ev gomatrixserverlib.PDU) string {
	var c struct {
		HistoryVisibility string `json:"history_visibility"`
	}
	_ = json.Unmarshal(ev.Content(), &c)
	switch c.HistoryVisibility {
	case visibilityWorldReadable, visibilityShared, visibilityInvited, visibilityJoined:
		return c.HistoryVisibility
	}
	return visibilityJoined
}
