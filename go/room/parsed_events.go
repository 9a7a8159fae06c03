package room

import (
	"bytes"
	"sync"

	"github.com/matrix-org/gomatrixserverlib"
)

// parsedGeneration bounds parsedEvents: each of its two generations holds at
// most this many events (a few MB at most).
const parsedGeneration = 512

// parsedEvents remembers events recently parsed from stored JSON, or stored
// here, so that loading one again costs a comparison instead of a parse.
//
// Why: a /sync woken by a send reads back the event the send had just built
// and parsed it again; in wasm gomatrixserverlib's parse (encoding/json) is
// ~60 µs an event, 2 % of the worker's CPU for a send and its /sync.
//
// Why it stays right: an entry is used only for the same room version, event
// ID and JSON bytes it was made from, and the parse is a function of those
// alone. So it is shared by every server in the process and never goes
// stale: a redaction rewrites the row's JSON, which then no longer matches.
// Events are shared read-only: their ID is set before they are remembered
// (loadEvent passes it; insertEvent has asked for it), and
// gomatrixserverlib's mutators (Redact, SetUnsignedField) are never called on
// a stored event.
type parsedEvents struct {
	mu            sync.Mutex
	recent, older map[string]gomatrixserverlib.PDU
}

var parsed = &parsedEvents{recent: map[string]gomatrixserverlib.PDU{}}

func parsedKey(v gomatrixserverlib.RoomVersion, id string) string { return string(v) + " " + id }

// lookup returns the event remembered for v and id if it was made from raw.
func (p *parsedEvents) lookup(v gomatrixserverlib.RoomVersion, id string, raw []byte) gomatrixserverlib.PDU {
	key := parsedKey(v, id)
	p.mu.Lock()
	ev, ok := p.recent[key]
	if !ok {
		ev, ok = p.older[key]
	}
	p.mu.Unlock()
	if !ok || !bytes.Equal(ev.JSON(), raw) {
		return nil
	}
	return ev
}

// remember keeps ev, which must have been made from its own JSON() with its
// ID as stored (a parse of a row, or an event as inserted).
func (p *parsedEvents) remember(ev gomatrixserverlib.PDU) {
	key := parsedKey(ev.Version(), ev.EventID())
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.recent) >= parsedGeneration {
		p.older, p.recent = p.recent, make(map[string]gomatrixserverlib.PDU, parsedGeneration)
	}
	p.recent[key] = ev
}
