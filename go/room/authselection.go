package room

import (
	"github.com/matrix-org/gomatrixserverlib"
)

// authSelectionFault checks a received event's auth_events against the auth
// events selection algorithm (server-server API, "Auth events selection"),
// which the auth rules require and gomatrixserverlib.Allowed does not check
// (it keeps the last of duplicates and ignores extras): no event listed twice,
// no two for one (type, state_key), and none the algorithm would not select.
// It returns why the event must be rejected, or "". stored holds the auth
// events, all present.
//
// Room version 12 drops m.room.create from the selection (the room ID names
// it), but the gomatrixserverlib Hearth builds with still lists it in v12
// events, so that rule is not enforced: it would refuse every Hearth peer.
func authSelectionFault(ev gomatrixserverlib.PDU, stored map[string]storedEvent) string {
	allowed := map[gomatrixserverlib.StateKeyTuple]bool{}
	for _, t := range gomatrixserverlib.StateNeededForAuth([]gomatrixserverlib.PDU{ev}).Tuples() {
		allowed[t] = true
	}
	seenIDs := map[string]bool{}
	seenKeys := map[gomatrixserverlib.StateKeyTuple]bool{}
	for _, id := range ev.AuthEventIDs() {
		if seenIDs[id] {
			return "auth event " + id + " is listed twice"
		}
		seenIDs[id] = true
		a := stored[id]
		if a.StateKey() == nil {
			return "auth event " + id + " is not a state event"
		}
		key := gomatrixserverlib.StateKeyTuple{EventType: a.Type(), StateKey: *a.StateKey()}
		if seenKeys[key] {
			return "two auth events for " + key.EventType + " " + key.StateKey
		}
		seenKeys[key] = true
		if !allowed[key] {
			return "auth event " + id + " (" + key.EventType + " " + key.StateKey + ") is not one the auth rules select"
		}
	}
	return ""
}
