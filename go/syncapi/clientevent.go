package syncapi

import (
	"encoding/json"

	"github.com/matrix-org/gomatrixserverlib"
)

// ClientEvent is an event as the client-server API shows it ("ClientEvent"
// in the spec): the PDU without its federation fields.
type ClientEvent struct {
	Content        json.RawMessage `json:"content"`
	EventID        string          `json:"event_id"`
	OriginServerTS int64           `json:"origin_server_ts"`
	RoomID         string          `json:"room_id,omitempty"`
	Sender         string          `json:"sender"`
	StateKey       *string         `json:"state_key,omitempty"`
	Type           string          `json:"type"`
	Redacts        string          `json:"redacts,omitempty"`
	Unsigned       map[string]any  `json:"unsigned,omitempty"`
}

// ToClientEvent converts a PDU. withRoomID is false inside /sync, where the
// room is the key the event is listed under.
func ToClientEvent(ev gomatrixserverlib.PDU, withRoomID bool) ClientEvent {
	ce := ClientEvent{
		Content:        json.RawMessage(ev.Content()),
		EventID:        ev.EventID(),
		OriginServerTS: int64(ev.OriginServerTS()),
		Sender:         string(ev.SenderID()),
		StateKey:       ev.StateKey(),
		Type:           ev.Type(),
		Redacts:        ev.Redacts(),
	}
	if withRoomID {
		ce.RoomID = ev.RoomID().String()
	}
	if u := ev.Unsigned(); len(u) > 2 {
		_ = json.Unmarshal(u, &ce.Unsigned) // best effort: unsigned is advisory
	}
	return ce
}
