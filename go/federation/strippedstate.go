package federation

import (
	"encoding/json"
	"fmt"
)

// Bounds on the stripped state an inviting server sends along (server-server
// API, "Inviting to a room": invite_room_state). It is only shown with the
// invite, so Hearth keeps what a client shows — the types below, once each —
// and drops the rest: three invites stored 25 MB before (issue 11).
const (
	maxStrippedStateEvents = 20
	maxStrippedStateBytes  = 64 << 10
)

// strippedStateTypes are the state events the spec suggests sending as
// stripped state (client-server API, "Stripped state"), and the inviter's
// own membership.
var strippedStateTypes = map[string]bool{
	"m.room.create": true, "m.room.name": true, "m.room.avatar": true, "m.room.topic": true,
	"m.room.join_rules": true, "m.room.canonical_alias": true, "m.room.encryption": true, "m.room.member": true,
}

// strippedEvent is the shape of one stripped state event.
type strippedEvent struct {
	Type     string          `json:"type"`
	StateKey *string         `json:"state_key"`
	Sender   string          `json:"sender"`
	Content  json.RawMessage `json:"content"`
}

// boundStrippedState returns the JSON array of the stripped state events
// worth keeping: well formed, of a shown type, first of their (type,
// state_key), at most maxStrippedStateEvents and maxStrippedStateBytes.
func boundStrippedState(events []json.RawMessage) ([]byte, error) {
	kept := []json.RawMessage{}
	seen := map[[2]string]bool{}
	size := 0
	for _, raw := range events {
		var ev strippedEvent
		if json.Unmarshal(raw, &ev) != nil || ev.StateKey == nil || !strippedStateTypes[ev.Type] || !json.Valid(ev.Content) {
			continue
		}
		key := [2]string{ev.Type, *ev.StateKey}
		if seen[key] || len(kept) == maxStrippedStateEvents || size+len(raw) > maxStrippedStateBytes {
			continue
		}
		seen[key] = true
		size += len(raw)
		kept = append(kept, raw)
	}
	out, err := json.Marshal(kept)
	if err != nil {
		return nil, fmt.Errorf("encode invite state: %w", err)
	}
	return out, nil
}
