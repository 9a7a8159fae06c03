package clientapi

import (
	"net/http"
	"strconv"

	"github.com/matrix-org/gomatrixserverlib/spec"

	"hearth/go/errcode"
	"hearth/go/room"
	"hearth/go/syncapi"
)

func (a *API) redact(req *request) (any, error) {
	var body struct {
		Reason string `json:"reason"`
	}
	if err := readJSON(req.Request, &body); err != nil {
		return nil, err
	}
	eventID, err := a.perform.Redact(req.ctx(), req.device.UserID, req.device.DeviceID, req.PathValue("txnId"),
		req.PathValue("roomId"), req.PathValue("eventId"), body.Reason)
	if err != nil {
		return nil, err
	}
	return map[string]string{"event_id": eventID}, nil
}

func (a *API) eventContext(req *request) (any, error) {
	limit := 10
	if s := req.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return nil, invalidParam("limit must be a non-negative integer")
		}
		limit = min(n, 100)
	}
	c, err := a.query.Context(req.ctx(), req.device.UserID, req.PathValue("roomId"), req.PathValue("eventId"), limit)
	if err != nil {
		return nil, err
	}
	start, end := c.Event.Pos-1, c.Event.Pos
	if n := len(c.Before); n > 0 {
		start = c.Before[n-1].Pos - 1
	}
	if n := len(c.After); n > 0 {
		end = c.After[n-1].Pos
	}
	// One pass for the bundles of the event and those around it.
	around := append(append([]room.Event{c.Event}, c.Before...), c.After...)
	timeline, err := a.clientEvents(req, req.PathValue("roomId"), around)
	if err != nil {
		return nil, err
	}
	return map[string]any{
		"event":         timeline[0],
		"events_before": timeline[1 : 1+len(c.Before)], "events_after": timeline[1+len(c.Before):], "state": toClientEvents(c.State),
		"start": start.String(), "end": end.String(),
	}, nil
}

func (a *API) getEvent(req *request) (any, error) {
	c, err := a.query.Context(req.ctx(), req.device.UserID, req.PathValue("roomId"), req.PathValue("eventId"), 0)
	if err != nil {
		return nil, err
	}
	evs, err := a.clientEvents(req, req.PathValue("roomId"), []room.Event{c.Event})
	if err != nil {
		return nil, err
	}
	return evs[0], nil
}

func (a *API) members(req *request) (any, error) {
	q := req.URL.Query()
	var at room.StreamPos
	if s := q.Get("at"); s != "" {
		var err error
		if at, err = room.ParseStreamPos(syncapi.EventsPart(s)); err != nil {
			return nil, err
		}
	}
	evs, err := a.query.Members(req.ctx(), req.device.UserID, req.PathValue("roomId"), at, q.Get("membership"), q.Get("not_membership"))
	if err != nil {
		return nil, err
	}
	return map[string]any{"chunk": toClientEvents(evs)}, nil
}

func (a *API) joinedMembers(req *request) (any, error) {
	joined, err := a.query.JoinedMembers(req.ctx(), req.device.UserID, req.PathValue("roomId"))
	if err != nil {
		return nil, err
	}
	return map[string]any{"joined": joined}, nil
}

func (a *API) forget(req *request) (any, error) {
	return struct{}{}, a.perform.Forget(req.ctx(), req.device.UserID, req.PathValue("roomId"))
}

// requireJoined answers M_FORBIDDEN unless the caller is joined to roomId.
func (a *API) requireJoined(req *request, roomID string) error {
	m, err := a.query.Memberships(req.ctx(), req.device.UserID)
	if err != nil {
		return err
	}
	if m[roomID].Membership != spec.Join {
		return errcode.New(http.StatusForbidden, "M_FORBIDDEN", "you are not joined to "+roomID)
	}
	return nil
}
