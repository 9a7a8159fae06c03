package federation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"

	"hearth/go/room"
)

// userIDForSender maps sender IDs to user IDs: in the room versions Hearth
// joins they are the same string.
func userIDForSender(_ spec.RoomID, sender spec.SenderID) (*spec.UserID, error) {
	return spec.NewUserID(string(sender), true)
}

// supported reports whether this server joins rooms of version v (see
// room.SupportedVersions).
func supported(v gomatrixserverlib.RoomVersion) bool { return room.Supported(v) }

// parseEvent checks an event from another server before anything else sees
// it: it must parse for the room version, and carry the signatures of the
// sender's server (and, for an invite, the invitee's): so a server cannot
// speak for users of another server. An event whose content hash is wrong
// comes back redacted (NewEventFromUntrustedJSON does it) and is processed
// redacted, as the server-server API requires.
func (f *Federation) parseEvent(ctx context.Context, v gomatrixserverlib.IRoomVersion, raw []byte) (gomatrixserverlib.PDU, error) {
	ev, err := v.NewEventFromUntrustedJSON(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadEvent, err)
	}
	if err := gomatrixserverlib.VerifyEventSignatures(ctx, ev, keyRing{}, userIDForSender); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrBadEvent, ev.EventID(), err)
	}
	if ev.Redacted() {
		log.WithField("event_id", ev.EventID()).Warn("content hash mismatch: event processed redacted")
	}
	return ev, nil
}

// parseEvents parses a list from another server, dropping (and logging) the
// events that fail parseEvent.
func (f *Federation) parseEvents(ctx context.Context, v gomatrixserverlib.IRoomVersion, raws []json.RawMessage) []gomatrixserverlib.PDU {
	out := make([]gomatrixserverlib.PDU, 0, len(raws))
	for _, raw := range raws {
		ev, err := f.parseEvent(ctx, v, raw)
		if err != nil {
			log.WithError(err).Warn("dropped an event that failed its checks")
			continue
		}
		out = append(out, ev)
	}
	return out
}

// process adds an event to its room, fetching from server from whatever the
// room lacks to judge it: its auth chain, the events between what this server
// has and it (get_missing_events, when fillGaps), or else the state after its
// unknown prev events.
func (f *Federation) process(ctx context.Context, from spec.ServerName, in room.Incoming, fillGaps bool) (room.Outcome, error) {
	ev := in.Event
	for attempt := 0; attempt < 4; attempt++ {
		outcome, err := f.rooms.Input.Receive(ctx, in)
		var missing *room.MissingEventsError
		if !errors.As(err, &missing) {
			return outcome, err
		}
		switch {
		case len(missing.Auth) > 0:
			if err := f.fetchAuthChain(ctx, from, ev); err != nil {
				return 0, err
			}
		case fillGaps:
			fillGaps = false // once: the events it brings may still leave a gap
			if err := f.fillGap(ctx, from, ev); err != nil {
				log.WithError(err).WithField("event_id", ev.EventID()).Warn("get_missing_events failed; asking for state")
			}
		default:
			states, err := f.fetchPrevStates(ctx, from, ev.RoomID().String(), missing.Prev)
			if err != nil {
				return 0, err
			}
			if in.PrevStates == nil {
				in.PrevStates = map[string][]string{}
			}
			for id, s := range states {
				in.PrevStates[id] = s
			}
		}
	}
	return 0, fmt.Errorf("receive %s: events still missing after fetching them from %s", ev.EventID(), from)
}

// fetchAuthChain stores the auth chain of ev, as server from reports it.
func (f *Federation) fetchAuthChain(ctx context.Context, from spec.ServerName, ev gomatrixserverlib.PDU) error {
	roomID := ev.RoomID().String()
	var resp struct {
		AuthChain []json.RawMessage `json:"auth_chain"`
	}
	if err := f.client.do(ctx, from, "GET", path("/_matrix/federation/v1/event_auth", roomID, ev.EventID()), nil, nil, &resp); err != nil {
		return fmt.Errorf("fetch auth chain of %s: %w", ev.EventID(), err)
	}
	v, err := f.rooms.Query.RoomVersion(ctx, roomID)
	if err != nil {
		return err
	}
	return f.rooms.Input.StoreOutliers(ctx, roomID, f.parseEvents(ctx, v, resp.AuthChain))
}

// maxMissingEvents is how many events one get_missing_events asks for; a
// longer gap is bridged with the state at its edge instead.
const maxMissingEvents = 50

// fillGap asks server from for the events between this server's forward
// extremities and ev, and adds them oldest first.
func (f *Federation) fillGap(ctx context.Context, from spec.ServerName, ev gomatrixserverlib.PDU) error {
	roomID := ev.RoomID().String()
	earliest, err := f.rooms.Query.Extremities(ctx, roomID)
	if err != nil {
		return err
	}
	var resp struct {
		Events []json.RawMessage `json:"events"`
	}
	body := map[string]any{"earliest_events": earliest, "latest_events": []string{ev.EventID()}, "limit": maxMissingEvents, "min_depth": 0}
	if err := f.client.do(ctx, from, "POST", path("/_matrix/federation/v1/get_missing_events", roomID), nil, body, &resp); err != nil {
		return fmt.Errorf("get missing events before %s: %w", ev.EventID(), err)
	}
	v, err := f.rooms.Query.RoomVersion(ctx, roomID)
	if err != nil {
		return err
	}
	events := f.parseEvents(ctx, v, resp.Events)
	slices.SortStableFunc(events, func(a, b gomatrixserverlib.PDU) int { return int(a.Depth() - b.Depth()) })
	for _, e := range events {
		// Live: a gap-filled event is as new to this room as the one that
		// revealed the gap, so current state may refuse it (issue 11: else a
		// banned user's message "from before the ban" slips in as a parent).
		if _, err := f.process(ctx, from, room.Incoming{Event: e, Live: true}, false); err != nil {
			log.WithError(err).WithField("event_id", e.EventID()).Warn("missing event not added")
		}
	}
	return nil
}

// fetchPrevStates asks server from for the state after each of prevs (the
// state before it, plus itself if it is a state event) and stores those
// events, so that Receive can judge an event whose prev events it cannot.
func (f *Federation) fetchPrevStates(ctx context.Context, from spec.ServerName, roomID string, prevs []string) (map[string][]string, error) {
	v, err := f.rooms.Query.RoomVersion(ctx, roomID)
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for _, prev := range prevs {
		var state struct {
			PDUs      []json.RawMessage `json:"pdus"`
			AuthChain []json.RawMessage `json:"auth_chain"`
		}
		q := map[string][]string{"event_id": {prev}}
		if err := f.client.do(ctx, from, "GET", path("/_matrix/federation/v1/state", roomID), q, nil, &state); err != nil {
			return nil, fmt.Errorf("fetch state at %s: %w", prev, err)
		}
		prevEvent, err := f.fetchEvent(ctx, from, v, roomID, prev)
		if err != nil {
			return nil, err
		}
		chain := f.parseEvents(ctx, v, state.AuthChain)
		stateEvents := f.parseEvents(ctx, v, state.PDUs)
		prevEvents := []gomatrixserverlib.PDU{prevEvent}
		if err := f.rooms.Input.StoreOutliers(ctx, roomID, slices.Concat(chain, stateEvents, prevEvents)); err != nil {
			return nil, err
		}
		after := map[[2]string]string{}
		for _, ev := range append(stateEvents, prevEvents...) {
			if sk := ev.StateKey(); sk != nil {
				after[[2]string{ev.Type(), *sk}] = ev.EventID()
			}
		}
		ids := make([]string, 0, len(after))
		for _, id := range after {
			ids = append(ids, id)
		}
		out[prev] = ids
	}
	return out, nil
}

// fetchEvent asks server from for one event of a room, checked (parseEvent).
func (f *Federation) fetchEvent(ctx context.Context, from spec.ServerName, v gomatrixserverlib.IRoomVersion, roomID, eventID string) (gomatrixserverlib.PDU, error) {
	var single struct {
		PDUs []json.RawMessage `json:"pdus"`
	}
	if err := f.client.do(ctx, from, "GET", path("/_matrix/federation/v1/event", eventID), nil, nil, &single); err != nil {
		return nil, fmt.Errorf("fetch event %s: %w", eventID, err)
	}
	events := f.parseEvents(ctx, v, single.PDUs)
	if len(events) != 1 || events[0].EventID() != eventID || events[0].RoomID().String() != roomID {
		return nil, fmt.Errorf("%w: %s did not send event %s of %s", ErrBadEvent, from, eventID, roomID)
	}
	return events[0], nil
}

// Backfill fetches up to limit events older than the oldest this server holds
// of a room, from a server in it, and adds them before the timeline. It
// returns how many were added; /messages calls it when it runs out of history.
func (f *Federation) Backfill(ctx context.Context, roomID string, limit int) (int, error) {
	from, err := f.rooms.Query.BackwardExtremities(ctx, roomID)
	if err != nil || len(from) == 0 {
		return 0, err
	}
	v, err := f.rooms.Query.RoomVersion(ctx, roomID)
	if err != nil {
		return 0, err
	}
	servers, err := f.otherServers(ctx, roomID)
	if err != nil {
		return 0, err
	}
	var lastErr error = fmt.Errorf("%w: no other server in %s", ErrUnreachable, roomID)
	for _, server := range servers {
		var resp struct {
			PDUs []json.RawMessage `json:"pdus"`
		}
		q := map[string][]string{"v": from, "limit": {fmt.Sprint(limit)}}
		if err := f.client.do(ctx, server, "GET", path("/_matrix/federation/v1/backfill", roomID), q, nil, &resp); err != nil {
			lastErr = err
			continue
		}
		events := f.parseEvents(ctx, v, resp.PDUs)
		// Newest first: each backfilled event is placed before all others.
		slices.SortStableFunc(events, func(a, b gomatrixserverlib.PDU) int { return int(b.Depth() - a.Depth()) })
		added := 0
		for _, ev := range events {
			if ev.RoomID().String() != roomID {
				continue
			}
			outcome, err := f.process(ctx, server, room.Incoming{Event: ev, Historical: true}, false)
			if err != nil {
				log.WithError(err).WithField("event_id", ev.EventID()).Warn("backfilled event not added")
				continue
			}
			if outcome == room.Accepted {
				added++
			}
		}
		return added, nil
	}
	return 0, lastErr
}

// otherServers returns the servers to ask about a room: those joined to it,
// then the one named in its ID, never this one.
func (f *Federation) otherServers(ctx context.Context, roomID string) ([]spec.ServerName, error) {
	joined, err := f.rooms.Query.JoinedServers(ctx, roomID)
	if err != nil {
		return nil, err
	}
	if _, domain, err := gomatrixserverlib.SplitID('!', roomID); err == nil {
		joined = append(joined, domain)
	}
	return f.candidates(joined), nil
}

// candidates dedupes servers, keeping order and leaving out this server.
func (f *Federation) candidates(servers []spec.ServerName) []spec.ServerName {
	var out []spec.ServerName
	for _, s := range servers {
		if s != "" && s != f.id.ServerName && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}
