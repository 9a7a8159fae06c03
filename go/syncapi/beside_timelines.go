package syncapi

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/matrix-org/gomatrixserverlib/spec"

	"hearth/go/push"
	"hearth/go/pushrules"
	"hearth/go/room"
)

// besideTimelines is what build gathers outside the rooms' timelines.
type besideTimelines struct {
	// roomData is per-room account data events, by room.
	roomData map[string][]any
	// receipts is the m.receipt content of the joined rooms with receipts
	// in the range, by room (joinedReceipts).
	receipts map[string]json.RawMessage
	// dataUpTo is the data position the response covers: latest's, unless
	// to-device messages were held back for the next sync.
	dataUpTo int64
}

// accountDataEvent is account data as /sync shows it.
type accountDataEvent struct {
	Type    string          `json:"type"`
	Content json.RawMessage `json:"content"`
}

// hasType reports whether evs holds an account data event of type t.
func hasType(evs []any, t string) bool {
	for _, ev := range evs {
		if ad, ok := ev.(accountDataEvent); ok && ad.Type == t {
			return true
		}
	}
	return false
}

// userParts fills the user-wide parts of resp — account data, presence,
// to-device messages, device lists and key counts — and gathers per-room
// account data. news, when not nil, holds the membership changes since the token.
func (s *Syncer) userParts(ctx context.Context, req Request, since, latest Token, initial bool, news *room.NewEvents, resp *Response) (besideTimelines, error) {
	ex := besideTimelines{roomData: map[string][]any{}, dataUpTo: latest.Data}
	if ad := s.src.AccountData; ad != nil {
		evs, err := ad.Since(ctx, req.User, since.Data, latest.Data)
		if err != nil {
			return ex, err
		}
		for _, ev := range evs {
			out := accountDataEvent{Type: ev.Type, Content: ev.Content}
			if ev.RoomID == "" {
				if req.Filter.AccountData.allowsType(ev.Type) {
					resp.AccountData.Events = append(resp.AccountData.Events, out)
				}
			} else if req.Filter.Room.AccountData.allowsType(ev.Type) {
				ex.roomData[ev.RoomID] = append(ex.roomData[ev.RoomID], out)
			}
		}
		if initial && !hasType(resp.AccountData.Events, pushrules.AccountDataType) && req.Filter.AccountData.allowsType(pushrules.AccountDataType) {
			// A user who never edited their push rules has the defaults, and an
			// initial sync carries them (client-server API, "Push Rules").
			defaults, err := json.Marshal(pushrules.Defaults(req.User))
			if err != nil {
				return ex, fmt.Errorf("encode default push rules: %w", err)
			}
			resp.AccountData.Events = append(resp.AccountData.Events, accountDataEvent{Type: pushrules.AccountDataType, Content: defaults})
		}
	}
	var memberChanges []room.MemberChange // in the user's rooms since the token
	if news != nil {
		memberChanges = news.MemberChanges
	} else if !initial {
		var err error
		if memberChanges, err = s.rooms.MemberChanges(ctx, req.User, since.Events, latest.Events); err != nil {
			return ex, err
		}
	}
	if err := s.presence(ctx, req, since, memberChanges, resp); err != nil {
		return ex, err
	}
	if k := s.src.Keys; k != nil {
		keys, err := k.ForSync(ctx, req.User, req.DeviceID, since.Data, latest.Data)
		if err != nil {
			return ex, err
		}
		for _, m := range keys.ToDevice {
			resp.ToDevice.Events = append(resp.ToDevice.Events, m)
		}
		ex.dataUpTo = keys.DataUpTo
		resp.OTKCounts, resp.FallbackKeyTypes = keys.OTKCounts, keys.FallbackKeyTypes
		if !initial { // an initial sync has no "since" for changes
			if err := s.deviceLists(ctx, req, since, latest, memberChanges, resp); err != nil {
				return ex, err
			}
		}
	}
	return ex, nil
}

// roomEphemeral returns a joined room's typing events that changed between
// since and latest, and its receipts from joinedReceipts.
func (s *Syncer) roomEphemeral(req Request, roomID string, since Token, receipts json.RawMessage) []any {
	out := []any{}
	if eph := s.src.Ephemeral; eph != nil {
		if users, ok := eph.Typing(roomID, since.Ephemeral); ok && req.Filter.Room.Ephemeral.allowsType("m.typing") {
			out = append(out, map[string]any{"type": "m.typing", "content": map[string]any{"user_ids": users}})
		}
	}
	if receipts != nil {
		out = append(out, map[string]any{"type": "m.receipt", "content": receipts})
	}
	return out
}

// joinedReceipts reads the receipts stored between since and latest in every
// room of memberships the user is joined to and the response shows, for
// roomEphemeral (Receipts asks nothing of an empty range).
func (s *Syncer) joinedReceipts(ctx context.Context, req Request, memberships map[string]room.Membership, since, latest Token) (map[string]json.RawMessage, error) {
	eph := s.src.Ephemeral
	if eph == nil || !req.Filter.Room.Ephemeral.allowsType("m.receipt") {
		return nil, nil
	}
	var joined []string
	for roomID, m := range memberships {
		if m.Membership == spec.Join && showsMembership(req, latest, roomID, m) {
			joined = append(joined, roomID)
		}
	}
	return eph.Receipts(ctx, joined, req.User, since.Data, latest.Data)
}

// maxHeroes is how many members a room summary names (client-server API,
// "m.heroes": up to 5).
const maxHeroes = 5

// summary is a room's member counts and heroes, which clients use to name
// rooms without a name, and need when members are lazy-loaded. It reads the
// members unchecked: the user may have left the room since the sync's
// snapshot of their rooms, and one room's change must not fail the sync.
func (s *Syncer) summary(ctx context.Context, user spec.UserID, roomID string) (map[string]any, error) {
	members, err := s.rooms.CurrentMembers(ctx, roomID)
	if err != nil {
		return nil, err
	}
	joined, invited := 0, 0
	heroes := []string{}
	for _, ev := range members {
		m, _ := ev.Membership()
		switch m {
		case spec.Join:
			joined++
		case spec.Invite:
			invited++
		default:
			continue
		}
		if id := *ev.StateKey(); id != user.String() && len(heroes) < maxHeroes {
			heroes = append(heroes, id)
		}
	}
	return map[string]any{"m.heroes": heroes, "m.joined_member_count": joined, "m.invited_member_count": invited}, nil
}

// unread is a room's unread_notifications (and, when the filter asks,
// unread_thread_notifications): the notifications the user's push rules
// made after their read position (package push), of events up to upTo.
// Without push, none.
func (s *Syncer) unread(ctx context.Context, req Request, roomID string, upTo room.StreamPos) (push.Counts, map[string]push.Counts, error) {
	if s.src.Push == nil {
		return push.Counts{}, nil, nil
	}
	byThread := req.Filter.Room.Timeline.UnreadThreadNotifications
	c, err := s.src.Push.Unread(ctx, req.User, roomID, upTo, byThread)
	if err != nil {
		return push.Counts{}, nil, err
	}
	if !byThread {
		return c.Main, nil, nil
	}
	return c.Main, c.Threads, nil
}
