package clientapi

import (
	"hearth/go/room"
	"hearth/go/syncapi"
)

// toClientEvents converts events for the client as they are.
func toClientEvents(events []room.Event) []syncapi.ClientEvent {
	out := make([]syncapi.ClientEvent, 0, len(events))
	for _, ev := range events {
		out = append(out, syncapi.ToClientEvent(ev.PDU, true))
	}
	return out
}

// clientEvents converts a room's events for the client, each with its
// bundled aggregations (spec 1.11, "Aggregations of child events").
func (a *API) clientEvents(req *request, roomID string, events []room.Event) ([]syncapi.ClientEvent, error) {
	bundles, err := a.query.Bundles(req.ctx(), req.device.UserID, roomID, events)
	if err != nil {
		return nil, err
	}
	out := make([]syncapi.ClientEvent, 0, len(events))
	for _, ev := range events {
		ce := syncapi.ToClientEvent(ev.PDU, true)
		if b, ok := bundles[ev.EventID()]; ok {
			syncapi.AddBundle(&ce, b, true)
		}
		out = append(out, ce)
	}
	return out, nil
}
