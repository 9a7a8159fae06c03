package federation

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"
)

// The read side of filling gaps: what a server in the room may fetch.
// TODO: history_visibility is not applied; any joined server reads all history.

// requireJoined fails unless the requesting server is in the room.
func (f *Federation) requireJoined(req *request, roomID string) error {
	joined, err := f.rooms.ServerJoined(req.ctx(), roomID, req.origin)
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
	events, err := f.rooms.WalkBack(req.ctx(), roomID, body.Latest, body.Earliest, body.Limit, body.MinDepth, false)
	if err != nil {
		return nil, err
	}
	return map[string]any{"events": rawEvents(events)}, nil
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
	events, err := f.rooms.WalkBack(req.ctx(), roomID, q["v"], nil, min(limit, maxWalkLimit), 0, true)
	if err != nil {
		return nil, err
	}
	return f.transactionOf(events), nil
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
	return f.rooms.StateBefore(req.ctx(), roomID, eventID)
}

func (f *Federation) event(req *request) (any, error) {
	eventID := req.PathValue("eventId")
	roomID, err := f.rooms.RoomOfEvent(req.ctx(), eventID)
	if err != nil {
		return nil, err
	}
	if err := f.requireJoined(req, roomID); err != nil {
		return nil, err
	}
	ev, err := f.rooms.Event(req.ctx(), roomID, eventID)
	if err != nil {
		return nil, err
	}
	return f.transactionOf([]gomatrixserverlib.PDU{ev}), nil
}

func (f *Federation) eventAuth(req *request) (any, error) {
	roomID := req.PathValue("roomId")
	if err := f.requireJoined(req, roomID); err != nil {
		return nil, err
	}
	eventID := req.PathValue("eventId")
	if _, err := f.rooms.Event(req.ctx(), roomID, eventID); err != nil {
		return nil, err
	}
	chain, err := f.rooms.AuthChain(req.ctx(), roomID, []string{eventID})
	if err != nil {
		return nil, err
	}
	return map[string]any{"auth_chain": rawEvents(chain)}, nil
}

// transactionOf wraps events as the spec's Transaction shape (event, backfill).
func (f *Federation) transactionOf(events []gomatrixserverlib.PDU) map[string]any {
	return map[string]any{
		"origin": f.id.ServerName, "origin_server_ts": spec.AsTimestamp(f.now()), "pdus": rawEvents(events),
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
