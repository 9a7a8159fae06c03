package federation

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"
)

// The read side of filling gaps: what a server in the room may fetch. Only
// a server with a joined user may ask, and it gets only what its users may
// see (room.VisibleToServer): backfill, get_missing_events and event answer
// the events it may not see redacted, so that the event graph stays whole
// while their content stays here; state and state_ids at such an event are
// refused.

// requireJoined fails unless the requesting server is in the room.
func (f *Federation) requireJoined(req *request, roomID string) error {
	joined, err := f.rooms.Query.ServerJoined(req.ctx(), roomID, req.origin)
	if err != nil {
		return err
	}
	if !joined {
		return fmt.Errorf("%w: %s in %s", ErrNotInRoom, req.origin, roomID)
	}
	return nil
}

// maxWalkLimit caps the events one backfill or get_missing_events returns.
const maxWalkLimit = 100

func (f *Federation) getMissingEvents(req *request) (any, error) {
	roomID := req.PathValue("roomId")
	if err := f.requireJoined(req, roomID); err != nil {
		return nil, err
	}
	var body struct {
		Earliest []string `json:"earliest_events"`
		Latest   []string `json:"latest_events"`
		Limit    int      `json:"limit"`
		MinDepth int64    `json:"min_depth"`
	}
	if err := req.readContent(&body); err != nil {
		return nil, err
	}
	if body.Limit <= 0 || body.Limit > maxWalkLimit {
		body.Limit = min(maxWalkLimit, max(body.Limit, 10))
	}
	events, err := f.rooms.Query.WalkBack(req.ctx(), roomID, body.Latest, body.Earliest, body.Limit, body.MinDepth, false)
	if err != nil {
		return nil, err
	}
	raws, err := f.visibleEvents(req, roomID, events)
	if err != nil {
		return nil, err
	}
	return map[string]any{"events": raws}, nil
}

func (f *Federation) backfill(req *request) (any, error) {
	roomID := req.PathValue("roomId")
	if err := f.requireJoined(req, roomID); err != nil {
		return nil, err
	}
	q := req.URL.Query()
	limit, err := strconv.Atoi(q.Get("limit"))
	if err != nil || limit <= 0 {
		return nil, fmt.Errorf("%w: limit must be a positive integer", ErrBadRequest)
	}
	events, err := f.rooms.Query.WalkBack(req.ctx(), roomID, q["v"], nil, min(limit, maxWalkLimit), 0, true)
	if err != nil {
		return nil, err
	}
	raws, err := f.visibleEvents(req, roomID, events)
	if err != nil {
		return nil, err
	}
	return f.transactionOf(raws), nil
}

func (f *Federation) state(req *request) (any, error) {
	state, chain, err := f.stateAt(req)
	if err != nil {
		return nil, err
	}
	return map[string]any{"pdus": rawEvents(state), "auth_chain": rawEvents(chain)}, nil
}

func (f *Federation) stateIDs(req *request) (any, error) {
	state, chain, err := f.stateAt(req)
	if err != nil {
		return nil, err
	}
	return map[string]any{"pdu_ids": eventIDs(state), "auth_chain_ids": eventIDs(chain)}, nil
}

// stateAt answers state and state_ids: the state before ?event_id.
func (f *Federation) stateAt(req *request) (state, chain []gomatrixserverlib.PDU, err error) {
	roomID := req.PathValue("roomId")
	if err := f.requireJoined(req, roomID); err != nil {
		return nil, nil, err
	}
	eventID := req.URL.Query().Get("event_id")
	if eventID == "" {
		return nil, nil, fmt.Errorf("%w: event_id is required", ErrBadRequest)
	}
	visible, err := f.rooms.Query.VisibleToServer(req.ctx(), roomID, req.origin, []string{eventID})
	if err != nil {
		return nil, nil, err
	}
	if known, ok := visible[eventID]; ok && !known {
		return nil, nil, fmt.Errorf("%w: %s may not see %s", ErrNotVisible, req.origin, eventID)
	}
	return f.rooms.Query.StateBefore(req.ctx(), roomID, eventID)
}

func (f *Federation) event(req *request) (any, error) {
	eventID := req.PathValue("eventId")
	roomID, err := f.rooms.Query.RoomOfEvent(req.ctx(), eventID)
	if err != nil {
		return nil, err
	}
	if err := f.requireJoined(req, roomID); err != nil {
		return nil, err
	}
	ev, err := f.rooms.Query.Event(req.ctx(), roomID, eventID)
	if err != nil {
		return nil, err
	}
	raws, err := f.visibleEvents(req, roomID, []gomatrixserverlib.PDU{ev})
	if err != nil {
		return nil, err
	}
	return f.transactionOf(raws), nil
}

func (f *Federation) eventAuth(req *request) (any, error) {
	roomID := req.PathValue("roomId")
	if err := f.requireJoined(req, roomID); err != nil {
		return nil, err
	}
	eventID := req.PathValue("eventId")
	if _, err := f.rooms.Query.Event(req.ctx(), roomID, eventID); err != nil {
		return nil, err
	}
	chain, err := f.rooms.Query.AuthChain(req.ctx(), roomID, []string{eventID})
	if err != nil {
		return nil, err
	}
	return map[string]any{"auth_chain": rawEvents(chain)}, nil
}

// visibleEvents returns events as the requesting server may have them: those
// its users may not see are redacted (their signatures still verify, and
// their hashes tell the receiver they were).
func (f *Federation) visibleEvents(req *request, roomID string, events []gomatrixserverlib.PDU) ([]json.RawMessage, error) {
	visible, err := f.rooms.Query.VisibleToServer(req.ctx(), roomID, req.origin, eventIDs(events))
	if err != nil {
		return nil, err
	}
	out := make([]json.RawMessage, 0, len(events))
	for _, ev := range events {
		if visible[ev.EventID()] {
			out = append(out, json.RawMessage(ev.JSON()))
			continue
		}
		redacted, err := gomatrixserverlib.MustGetRoomVersion(ev.Version()).RedactEventJSON(ev.JSON())
		if err != nil {
			return nil, fmt.Errorf("redact %s: %w", ev.EventID(), err)
		}
		out = append(out, redacted)
	}
	return out, nil
}

// transactionOf wraps events as the spec's Transaction shape (event, backfill).
func (f *Federation) transactionOf(raws []json.RawMessage) map[string]any {
	return map[string]any{
		"origin": f.id.ServerName, "origin_server_ts": spec.AsTimestamp(f.opts.Now()), "pdus": raws,
	}
}

func rawEvents(events []gomatrixserverlib.PDU) []json.RawMessage {
	out := make([]json.RawMessage, 0, len(events))
	for _, ev := range events {
		out = append(out, json.RawMessage(ev.JSON()))
	}
	return out
}

func eventIDs(events []gomatrixserverlib.PDU) []string {
	out := make([]string, 0, len(events))
	for _, ev := range events {
		out = append(out, ev.EventID())
	}
	return out
}
