package syncapi

import "hearth/go/room"

// AddBundle puts an event's bundled aggregations into its
// unsigned.m.relations (client-server API v1.11, "Aggregations of child
// events"): m.replace is the newest edit, m.reference the referencing event
// IDs, m.thread the latest reply, the reply count and whether the user took part.
func AddBundle(ce *ClientEvent, b room.Bundle, withRoomID bool) {
	relations := map[string]any{}
	if b.Replace != nil {
		relations[room.RelReplace] = ToClientEvent(b.Replace.PDU, withRoomID)
	}
	if len(b.References) > 0 {
		chunk := make([]map[string]string, len(b.References))
		for i, id := range b.References {
			chunk[i] = map[string]string{"event_id": id}
		}
		relations[room.RelReference] = map[string]any{"chunk": chunk}
	}
	if t := b.Thread; t != nil {
		relations[room.RelThread] = map[string]any{
			"latest_event": ToClientEvent(t.Latest.PDU, withRoomID),
			"count":        t.Count, "current_user_participated": t.Participated,
		}
	}
	if len(relations) == 0 {
		return
	}
	if ce.Unsigned == nil {
		ce.Unsigned = map[string]any{}
	}
	ce.Unsigned["m.relations"] = relations
}
