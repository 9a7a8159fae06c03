package clientapi

import (
	"fmt"
	"strings"

	"hearth/go/room"
)

// maxDeliveryEvents bounds the event_id parameters of one delivery request.
const maxDeliveryEvents = 50

// deliveryState answers the delivery state extension (see its route in
// Handler): where this server's events are on their way to the other servers
// of the room. For a user joined to the room; every event_id must be one of
// the room's events.
func (a *API) deliveryState(req *request) (any, error) {
	roomID := req.PathValue("roomId")
	eventIDs := req.URL.Query()["event_id"]
	switch {
	case len(eventIDs) == 0:
		return nil, invalidParam("event_id is required (repeat it for several events)")
	case len(eventIDs) > maxDeliveryEvents:
		return nil, invalidParam(fmt.Sprintf("at most %d event_id parameters", maxDeliveryEvents))
	}
	for _, id := range eventIDs {
		if !strings.HasPrefix(id, "$") {
			return nil, invalidParam("not an event ID: " + id)
		}
	}
	if err := a.query.RequireJoined(req.ctx(), roomID, req.device.UserID); err != nil {
		return nil, err
	}
	for _, id := range eventIDs {
		in, err := a.query.RoomOfEvent(req.ctx(), id)
		if err != nil && !room.IsNotFound(err) {
			return nil, err
		}
		if in != roomID {
			return nil, notFound("no event " + id + " in " + roomID)
		}
	}
	deliveries, err := a.fed.DeliveryOf(req.ctx(), eventIDs)
	if err != nil {
		return nil, err
	}
	type eventState struct {
		State   string            `json:"state"`
		Waiting map[string]string `json:"waiting"`
	}
	events := make(map[string]eventState, len(deliveries))
	for id, d := range deliveries {
		s := eventState{State: string(d.State), Waiting: make(map[string]string, len(d.Waiting))}
		for server, where := range d.Waiting {
			s.Waiting[string(server)] = string(where)
		}
		events[id] = s
	}
	return map[string]any{"events": events}, nil
}
