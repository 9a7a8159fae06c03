// Package syncapi answers GET /sync: what changed for a user since a token,
// waiting (long-polling) until something does.
package syncapi

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"

	"hearth/go/room"
)

// DefaultTimelineLimit is how many timeline events a room shows per sync
// when no filter says otherwise.
const DefaultTimelineLimit = 20

// Syncer builds /sync responses.
type Syncer struct {
	rooms    *room.Rooms
	notifier *Notifier
}

// New returns a Syncer reading rooms and woken by notifier.
func New(rooms *room.Rooms, notifier *Notifier) *Syncer {
	return &Syncer{rooms: rooms, notifier: notifier}
}

// Request is one /sync call.
type Request struct {
	User     spec.UserID
	DeviceID string
	// Since is the client's next_batch token; "" for an initial sync.
	Since         string
	Timeout       time.Duration // how long to wait for news; 0 answers at once
	FullState     bool
	TimelineLimit int // 0: DefaultTimelineLimit
}

// Response is the body of a /sync answer.
type Response struct {
	NextBatch   string      `json:"next_batch"`
	Rooms       Rooms       `json:"rooms"`
	AccountData EventList   `json:"account_data"`
	Presence    EventList   `json:"presence"`
	ToDevice    EventList   `json:"to_device"`
	DeviceLists DeviceLists `json:"device_lists"`
}

// Rooms groups rooms by the user's membership.
type Rooms struct {
	Join   map[string]JoinedRoom  `json:"join"`
	Invite map[string]InvitedRoom `json:"invite"`
	Leave  map[string]LeftRoom    `json:"leave"`
}

// JoinedRoom is a room the user is joined to.
type JoinedRoom struct {
	State               EventList      `json:"state"`
	Timeline            Timeline       `json:"timeline"`
	Ephemeral           EventList      `json:"ephemeral"`
	AccountData         EventList      `json:"account_data"`
	UnreadNotifications map[string]int `json:"unread_notifications"`
	Summary             map[string]any `json:"summary"`
}

// InvitedRoom is a room the user is invited to.
type InvitedRoom struct {
	InviteState struct {
		Events []StrippedEvent `json:"events"`
	} `json:"invite_state"`
}

// LeftRoom is a room the user left or was removed from since the token.
type LeftRoom struct {
	State       EventList `json:"state"`
	Timeline    Timeline  `json:"timeline"`
	AccountData EventList `json:"account_data"`
}

// Timeline is a room's recent events.
type Timeline struct {
	Events    []ClientEvent `json:"events"`
	Limited   bool          `json:"limited"`
	PrevBatch string        `json:"prev_batch,omitempty"`
}

// EventList is the {"events": […]} wrapper the spec uses everywhere.
type EventList struct {
	Events []any `json:"events"`
}

// DeviceLists is reserved for end-to-end encryption.
type DeviceLists struct {
	Changed []string `json:"changed"`
	Left    []string `json:"left"`
}

// StrippedEvent is a state event reduced to what an invitee may see.
type StrippedEvent struct {
	Content  any    `json:"content"`
	Sender   string `json:"sender"`
	StateKey string `json:"state_key"`
	Type     string `json:"type"`
}

// Sync answers one request. With a since token and a timeout, it waits until
// something new for this user arrives or the timeout passes, then answers.
func (s *Syncer) Sync(ctx context.Context, req Request) (*Response, error) {
	var since room.StreamPos
	if req.Since != "" {
		var err error
		if since, err = room.ParseStreamPos(req.Since); err != nil {
			return nil, err
		}
	}
	if req.TimelineLimit <= 0 {
		req.TimelineLimit = DefaultTimelineLimit
	}
	deadline := time.Now().Add(req.Timeout)
	for {
		latest := s.notifier.Latest()
		if since > latest {
			// A token from the future (the database was reset): answer from scratch.
			since = 0
		}
		resp, err := s.build(ctx, req, since, latest)
		if err != nil {
			return nil, err
		}
		if since == 0 || req.FullState || !resp.empty() || !time.Now().Before(deadline) {
			return resp, nil
		}
		// Nothing for this user yet: wait for any new event, then look again.
		// Once the deadline passes, the next round answers whatever it finds.
		waitCtx, cancel := context.WithDeadline(ctx, deadline)
		s.notifier.Wait(waitCtx, latest)
		cancel()
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("sync: %w", err)
		}
	}
}

func (r *Response) empty() bool {
	return len(r.Rooms.Join) == 0 && len(r.Rooms.Invite) == 0 && len(r.Rooms.Leave) == 0
}

// build collects what changed for the user in (since, latest].
func (s *Syncer) build(ctx context.Context, req Request, since, latest room.StreamPos) (*Response, error) {
	resp := &Response{
		NextBatch: latest.String(),
		Rooms: Rooms{
			Join: map[string]JoinedRoom{}, Invite: map[string]InvitedRoom{}, Leave: map[string]LeftRoom{},
		},
		AccountData: emptyList(), Presence: emptyList(), ToDevice: emptyList(),
		DeviceLists: DeviceLists{Changed: []string{}, Left: []string{}},
	}
	memberships, err := s.rooms.Memberships(ctx, req.User)
	if err != nil {
		return nil, err
	}
	for roomID, m := range memberships {
		if m.Pos > latest {
			continue // committed after this response's snapshot: the next sync shows it
		}
		switch m.Membership {
		case spec.Join:
			// A room joined after the token is shown whole, as in an initial sync.
			from := since
			if m.Pos > since || req.FullState {
				from = 0
			}
			jr, ok, err := s.joinedRoom(ctx, req, roomID, from, since, latest)
			if err != nil {
				return nil, err
			}
			if ok {
				resp.Rooms.Join[roomID] = jr
			}
		case spec.Invite:
			if m.Pos <= since {
				continue
			}
			ir, err := s.invitedRoom(ctx, req.User, roomID)
			if err != nil {
				return nil, err
			}
			resp.Rooms.Invite[roomID] = ir
		case spec.Leave, spec.Ban:
			if since == 0 || m.Pos <= since {
				continue // initial syncs leave out rooms already left
			}
			timeline, limited, err := s.rooms.Timeline(ctx, roomID, since, m.Pos, req.TimelineLimit)
			if err != nil {
				return nil, err
			}
			tl, err := s.timeline(ctx, req, timeline, limited, m.Pos)
			if err != nil {
				return nil, err
			}
			resp.Rooms.Leave[roomID] = LeftRoom{State: emptyList(), Timeline: tl, AccountData: emptyList()}
		}
	}
	return resp, nil
}

// joinedRoom shows a joined room's news in (since, latest]; from is where
// its state starts (0 for the whole state). ok is false when nothing changed.
func (s *Syncer) joinedRoom(ctx context.Context, req Request, roomID string, from, since, latest room.StreamPos) (JoinedRoom, bool, error) {
	events, limited, err := s.rooms.Timeline(ctx, roomID, from, latest, req.TimelineLimit)
	if err != nil {
		return JoinedRoom{}, false, err
	}
	if len(events) == 0 && from == since {
		return JoinedRoom{}, false, nil
	}
	timelineStart := latest + 1
	if len(events) > 0 {
		timelineStart = events[0].Pos
	}
	state := emptyList()
	if from == 0 || limited {
		stateEvents, err := s.rooms.StateBetween(ctx, roomID, from, timelineStart)
		if err != nil {
			return JoinedRoom{}, false, err
		}
		for _, ev := range stateEvents {
			state.Events = append(state.Events, ToClientEvent(ev.PDU, false))
		}
	}
	tl, err := s.timeline(ctx, req, events, limited, latest)
	if err != nil {
		return JoinedRoom{}, false, err
	}
	return JoinedRoom{
		State: state, Timeline: tl, Ephemeral: emptyList(), AccountData: emptyList(),
		UnreadNotifications: map[string]int{}, Summary: map[string]any{},
	}, true, nil
}

// timeline converts events, marking the requesting device's own sends with
// their transaction IDs so the client can match its local echo.
func (s *Syncer) timeline(ctx context.Context, req Request, events []room.Event, limited bool, end room.StreamPos) (Timeline, error) {
	var own []string
	for _, ev := range events {
		if string(ev.SenderID()) == req.User.String() {
			own = append(own, ev.EventID())
		}
	}
	txnIDs, err := s.rooms.TransactionIDs(ctx, req.User, req.DeviceID, own)
	if err != nil {
		return Timeline{}, err
	}
	tl := Timeline{Events: make([]ClientEvent, 0, len(events)), Limited: limited}
	for _, ev := range events {
		ce := ToClientEvent(ev.PDU, false)
		if txnID, ok := txnIDs[ev.EventID()]; ok {
			if ce.Unsigned == nil {
				ce.Unsigned = map[string]any{}
			}
			ce.Unsigned["transaction_id"] = txnID
		}
		tl.Events = append(tl.Events, ce)
	}
	prev := end
	if len(events) > 0 {
		prev = events[0].Pos - 1
	}
	tl.PrevBatch = prev.String()
	return tl, nil
}

func (s *Syncer) invitedRoom(ctx context.Context, user spec.UserID, roomID string) (InvitedRoom, error) {
	// An invite from another server to a room this server is not in comes
	// with the stripped state that server chose to send.
	remote, ok, err := s.rooms.RemoteInviteState(ctx, roomID, user)
	if err != nil {
		return InvitedRoom{}, err
	}
	if ok {
		var ir InvitedRoom
		if err := json.Unmarshal(remote, &ir.InviteState.Events); err != nil || ir.InviteState.Events == nil {
			ir.InviteState.Events = []StrippedEvent{}
		}
		if ev, err := s.rooms.InviteEvent(ctx, roomID, user); err == nil {
			ir.InviteState.Events = append(ir.InviteState.Events, stripped(ev))
		}
		return ir, nil
	}
	events, err := s.rooms.InviteState(ctx, roomID, user)
	if err != nil {
		return InvitedRoom{}, err
	}
	var ir InvitedRoom
	ir.InviteState.Events = make([]StrippedEvent, 0, len(events))
	for _, ev := range events {
		ir.InviteState.Events = append(ir.InviteState.Events, stripped(ev))
	}
	return ir, nil
}

func stripped(ev gomatrixserverlib.PDU) StrippedEvent {
	return StrippedEvent{
		Content: ToClientEvent(ev, false).Content, Sender: string(ev.SenderID()),
		StateKey: *ev.StateKey(), Type: ev.Type(),
	}
}

func emptyList() EventList { return EventList{Events: []any{}} }
