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

	"hearth/go/accountdata"
	"hearth/go/ephemeral"
	"hearth/go/keys"
	"hearth/go/push"
	"hearth/go/room"
)

// DefaultTimelineLimit is how many timeline events a room shows per sync
// when no filter says otherwise.
const DefaultTimelineLimit = 20

// maxEventsToScan is the longest range of new events a sync reads through
// to learn which rooms have any; past it, each room is asked.
const maxEventsToScan = 1000

// Syncer builds /sync responses.
type Syncer struct {
	rooms    *room.Queryer
	notifier *Notifier
	src      Sources
	// AfterWake, if set, runs when news wakes a waiting sync, before the sync
	// is built. In wasm every goroutine shares JS's one thread, and a send's
	// answer leaves only once Go yields: a sync the send woke would otherwise
	// be built first (bridge.YieldToEventLoop lets the answer out).
	AfterWake func()
}

// Sources are the non-room parts a sync reports.
type Sources struct {
	AccountData *accountdata.Store
	Ephemeral   *ephemeral.Ephemeral
	Keys        *keys.Keys
	Push        *push.Push // unread notification counts; nil: all zero
}

// New returns a Syncer reading rooms and src, woken by notifier.
func New(rooms *room.Queryer, notifier *Notifier, src Sources) *Syncer {
	return &Syncer{rooms: rooms, notifier: notifier, src: src}
}

// Request is one /sync call.
type Request struct {
	User     spec.UserID
	DeviceID string
	// Since is the client's next_batch token; "" for an initial sync.
	Since     string
	Timeout   time.Duration // how long to wait for news; 0 answers at once
	FullState bool
	Filter    *Filter // nil: no filter
}

// Response is the body of a /sync answer.
type Response struct {
	NextBatch   string      `json:"next_batch"`
	Rooms       Rooms       `json:"rooms"`
	AccountData EventList   `json:"account_data"`
	Presence    EventList   `json:"presence"`
	ToDevice    EventList   `json:"to_device"`
	DeviceLists DeviceLists `json:"device_lists"`
	// OTKCounts and FallbackKeyTypes let the device top up its keys.
	OTKCounts        map[string]int `json:"device_one_time_keys_count"`
	FallbackKeyTypes []string       `json:"device_unused_fallback_key_types"`
}

// Rooms groups rooms by the user's membership.
type Rooms struct {
	Join   map[string]JoinedRoom  `json:"join"`
	Invite map[string]InvitedRoom `json:"invite"`
	Leave  map[string]LeftRoom    `json:"leave"`
}

// JoinedRoom is a room the user is joined to.
type JoinedRoom struct {
	State               EventList   `json:"state"`
	Timeline            Timeline    `json:"timeline"`
	Ephemeral           EventList   `json:"ephemeral"`
	AccountData         EventList   `json:"account_data"`
	UnreadNotifications push.Counts `json:"unread_notifications"`
	// UnreadThreadNotifications: thread root → counts, when the filter's
	// unread_thread_notifications asks for them apart.
	UnreadThreadNotifications map[string]push.Counts `json:"unread_thread_notifications,omitempty"`
	Summary                   map[string]any         `json:"summary"`
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

// DeviceLists names users whose devices changed, for end-to-end encryption.
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
	var since Token
	if req.Since != "" {
		var err error
		if since, err = ParseToken(req.Since); err != nil {
			return nil, err
		}
	}
	if req.Filter == nil {
		req.Filter = &Filter{}
	}
	if req.Filter.Room.Timeline.Limit <= 0 {
		req.Filter.Room.Timeline.Limit = DefaultTimelineLimit
	}
	// An initial sync is one without a token, not one with a zero token: an
	// empty server hands out s0_0_0, and a sync from it must wait for news.
	initial := req.Since == ""
	deadline := time.Now().Add(req.Timeout)
	for {
		latest := s.notifier.Latest()
		// A part from the future (the database was reset, or the server
		// restarted and in-memory positions began again) starts that part afresh.
		if since.Events > latest.Events {
			since, initial = Token{}, true
		}
		if since.Data > latest.Data {
			since.Data = 0
		}
		if since.Ephemeral > latest.Ephemeral {
			since.Ephemeral = 0
		}
		// A long-poll from the newest token can find nothing until news
		// comes: it waits without building (in wasm a build's statements
		// hold the worker's one thread).
		if initial || req.FullState || latest.after(since) || !time.Now().Before(deadline) {
			resp, err := s.build(ctx, req, since, latest, initial)
			if err != nil {
				return nil, err
			}
			if initial || req.FullState || !resp.empty() || !time.Now().Before(deadline) {
				return resp, nil
			}
		}
		// Nothing for this user yet: wait for any news, then look again.
		// Once the deadline passes, the next round answers whatever it finds.
		waitCtx, cancel := context.WithDeadline(ctx, deadline)
		s.notifier.Wait(waitCtx, latest)
		cancel()
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("sync: %w", err)
		}
		if s.AfterWake != nil {
			s.AfterWake()
		}
	}
}

func (r *Response) empty() bool {
	return len(r.Rooms.Join) == 0 && len(r.Rooms.Invite) == 0 && len(r.Rooms.Leave) == 0 &&
		len(r.AccountData.Events) == 0 && len(r.Presence.Events) == 0 && len(r.ToDevice.Events) == 0 &&
		len(r.DeviceLists.Changed) == 0 && len(r.DeviceLists.Left) == 0
}

// build collects what changed for the user between since and latest.
func (s *Syncer) build(ctx context.Context, req Request, since, latest Token, initial bool) (*Response, error) {
	resp := &Response{
		Rooms: Rooms{
			Join: map[string]JoinedRoom{}, Invite: map[string]InvitedRoom{}, Leave: map[string]LeftRoom{},
		},
		AccountData: emptyList(), Presence: emptyList(), ToDevice: emptyList(),
		DeviceLists: DeviceLists{Changed: []string{}, Left: []string{}},
	}
	// An incremental sync usually wakes for one room's news: one pass over
	// the new events finds the rooms with some (the others need not be asked
	// for their timelines), the membership changes and the user's
	// memberships. nil: too many to read.
	var news *room.NewEvents
	if since.Events > 0 && latest.Events-since.Events <= maxEventsToScan {
		tl := &room.TimelineRead{Reader: req.User, DeviceID: req.DeviceID, Limit: req.Filter.Room.Timeline.Limit}
		n, err := s.rooms.NewEventsBetween(ctx, req.User, since.Events, latest.Events, tl)
		if err != nil {
			return nil, err
		}
		news = &n
	}
	outside, err := s.userParts(ctx, req, since, latest, initial, news, resp)
	if err != nil {
		return nil, err
	}
	next := latest
	next.Data = outside.dataUpTo
	resp.NextBatch = next.String()

	var memberships map[string]room.Membership
	var withEvents map[string]bool // nil: ask every room
	if news != nil {
		memberships, withEvents = news.Memberships, news.Rooms
	} else if memberships, err = s.rooms.Memberships(ctx, req.User); err != nil {
		return nil, err
	}
	if outside.receipts, err = s.joinedReceipts(ctx, req, memberships, since, latest); err != nil {
		return nil, err
	}
	var ignored map[string]bool // loaded with the first invite to show
	for roomID, m := range memberships {
		if !showsMembership(req, latest, roomID, m) {
			continue
		}
		switch m.Membership {
		case spec.Join:
			// A room joined after the token is shown whole, as in an initial sync.
			from := since.Events
			if m.Pos > since.Events || req.FullState {
				from = 0
			}
			quiet := withEvents != nil && from != 0 && !withEvents[roomID]
			var read []room.Event
			if news != nil && news.Timelines != nil && from == since.Events {
				read = news.Timelines[roomID]
				if read == nil {
					read = []room.Event{}
				}
			}
			jr, ok, err := s.joinedRoom(ctx, req, roomID, from, quiet, read, since, latest, outside)
			if err != nil {
				return nil, err
			}
			if ok {
				resp.Rooms.Join[roomID] = jr
			}
		case spec.Invite:
			if m.Pos <= since.Events {
				continue
			}
			if ignored == nil {
				if ignored, err = s.ignoredUsers(ctx, req.User); err != nil {
					return nil, err
				}
			}
			if inviter, ok := s.rooms.InviteSender(ctx, roomID, req.User); ok && ignored[inviter.String()] {
				continue
			}
			ir, err := s.invitedRoom(ctx, req.User, roomID)
			if err != nil {
				return nil, err
			}
			resp.Rooms.Invite[roomID] = ir
		case spec.Leave, spec.Ban:
			if since.Events == 0 || m.Pos <= since.Events {
				continue // initial syncs leave out rooms already left
			}
			if forgotten, err := s.rooms.Forgotten(ctx, req.User, roomID); err != nil || forgotten {
				if err != nil {
					return nil, err
				}
				continue
			}
			timeline, limited, err := s.rooms.Timeline(ctx, roomID, req.User, req.DeviceID, since.Events, m.Pos, req.Filter.Room.Timeline.Limit)
			if err != nil {
				return nil, err
			}
			tl, err := s.timeline(ctx, req, roomID, timeline, limited, m.Pos)
			if err != nil {
				return nil, err
			}
			resp.Rooms.Leave[roomID] = LeftRoom{State: emptyList(), Timeline: tl, AccountData: emptyList()}
		}
	}
	return resp, nil
}

// showsMembership reports whether a response up to latest shows the room of
// membership m: the membership was committed by then (a later one is the
// next sync's) and the filter lets the room through.
func showsMembership(req Request, latest Token, roomID string, m room.Membership) bool {
	return m.Pos <= latest.Events && req.Filter.Room.allowsRoom(roomID)
}

// joinedRoom shows a joined room's news between since and latest; from is
// where its state starts (0 for the whole state), and quiet says the room
// has no events after from. read is its timeline when the new events
// brought it (NewEvents.Timelines), else nil; outside holds its account
// data and receipts. ok is false when nothing changed.
func (s *Syncer) joinedRoom(ctx context.Context, req Request, roomID string, from room.StreamPos, quiet bool, read []room.Event, since, latest Token, outside besideTimelines) (JoinedRoom, bool, error) {
	f := req.Filter.Room
	events := read
	var limited bool
	if !quiet && read == nil {
		var err error
		if events, limited, err = s.rooms.Timeline(ctx, roomID, req.User, req.DeviceID, from, latest.Events, f.Timeline.Limit); err != nil {
			return JoinedRoom{}, false, err
		}
	}
	ephemeral := s.roomEphemeral(req, roomID, since, outside.receipts[roomID])
	accountData := outside.roomData[roomID]
	if len(events) == 0 && from == since.Events && len(ephemeral) == 0 && len(accountData) == 0 {
		return JoinedRoom{}, false, nil
	}
	timelineStart := latest.Events + 1
	if len(events) > 0 {
		timelineStart = events[0].Pos
	}
	shown := events[:0:0]
	senders := map[string]bool{req.User.String(): true}
	for _, ev := range events {
		if f.Timeline.Allows(ev.PDU) {
			shown = append(shown, ev)
			senders[string(ev.SenderID())] = true
		}
	}
	state := emptyList()
	summary := map[string]any{}
	if from == 0 || limited {
		stateEvents, err := s.rooms.StateBetween(ctx, roomID, from, timelineStart)
		if err != nil {
			return JoinedRoom{}, false, err
		}
		for _, ev := range stateEvents {
			if !f.State.Allows(ev.PDU) {
				continue
			}
			if f.State.LazyLoadMembers && ev.Type() == spec.MRoomMember && !senders[*ev.StateKey()] {
				continue
			}
			state.Events = append(state.Events, ToClientEvent(ev.PDU, false))
		}
		if summary, err = s.summary(ctx, req.User, roomID); err != nil {
			return JoinedRoom{}, false, err
		}
	} else if f.State.LazyLoadMembers && len(shown) > 0 {
		// Members are lazy-loaded: the client learns of a sender's membership
		// with their first events, so send it along (redundantly at times:
		// the spec allows that, and tracking what each client holds is not worth it).
		inTimeline := map[string]bool{}
		for _, ev := range shown {
			if ev.Type() == spec.MRoomMember {
				inTimeline[*ev.StateKey()] = true
			}
		}
		var need []string
		for id := range senders {
			if !inTimeline[id] && id != req.User.String() {
				need = append(need, id)
			}
		}
		members, err := s.rooms.CurrentMemberEvents(ctx, roomID, need)
		if err != nil {
			return JoinedRoom{}, false, err
		}
		for _, ev := range members {
			state.Events = append(state.Events, ToClientEvent(ev.PDU, false))
		}
	}
	tl, err := s.timeline(ctx, req, roomID, shown, limited, latest.Events)
	if err != nil {
		return JoinedRoom{}, false, err
	}
	if accountData == nil {
		accountData = []any{}
	}
	unread, threads, err := s.unread(ctx, req, roomID, latest.Events)
	if err != nil {
		return JoinedRoom{}, false, err
	}
	return JoinedRoom{
		State: state, Timeline: tl, Ephemeral: EventList{Events: ephemeral}, AccountData: EventList{Events: accountData},
		UnreadNotifications: unread, UnreadThreadNotifications: threads, Summary: summary,
	}, true, nil
}

// timeline converts a room's events, marking the requesting device's own
// sends with their transaction IDs so the client can match its local echo,
// and giving each its bundled aggregations as /messages does (spec 1.11,
// "Aggregations of child events": edits, references, thread summaries).
func (s *Syncer) timeline(ctx context.Context, req Request, roomID string, events []room.Event, limited bool, end room.StreamPos) (Timeline, error) {
	bundles, err := s.rooms.Bundles(ctx, req.User, roomID, events)
	if err != nil {
		return Timeline{}, err
	}
	tl := Timeline{Events: make([]ClientEvent, 0, len(events)), Limited: limited}
	for _, ev := range events {
		ce := ToClientEvent(ev.PDU, false)
		if b, ok := bundles[ev.EventID()]; ok {
			AddBundle(&ce, b, false)
		}
		if ev.TransactionID != "" {
			if ce.Unsigned == nil {
				ce.Unsigned = map[string]any{}
			}
			ce.Unsigned["transaction_id"] = ev.TransactionID
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
