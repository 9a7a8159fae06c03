package room

import (
	"sync"

	"github.com/matrix-org/gomatrixserverlib"
)

// maxAuthCacheRooms bounds authCache: past it the cache starts again empty.
const maxAuthCacheRooms = 1024

// authCache keeps, per room, the current-state events that the auth rules of
// local events asked for (create, power levels, join rules, the sender's
// membership…), each parsed once, and the joined members that new events
// are announced to (audience.go), tagged with the state group they were read
// at.
//
// Why: before it, each send ran one current_state ⨝ events query per auth
// event (3–4) and parsed each event's JSON; with prepared statements kept
// (storage/stmtcache.go) those loads were still 22 % of a send's CPU in
// hearth-bench's profile, the largest share after signing and hashing. Their
// SQL could not stay prepared either: current_state's partial index on
// type = 'm.room.member' makes SQLite re-plan the statement whenever the
// bound type changes. Reading the joined members and their display names
// (a join of current_state and events, with json_extract) for each new event
// was 6 % of the CPU with 8 users sending into one room.
//
// Why it stays right:
//   - A state group never changes once committed, and rooms.current_state_group
//     names the group current_state mirrors; an entry is used only while it
//     is the room's group, read in the same transaction.
//   - Entries are read inside a write (writeTx.auth) and enter the cache
//     only once that write has committed (core.write): a rolled-back group
//     ID, which SQLite may hand out again, is never cached.
//   - What changes a stored event or current_state outside state groups
//     (a redaction rewrites the redacted event's JSON; current_state of a
//     room this server is not in) calls invalidate, which empties the cache
//     and bumps gen, so a fill read before it is dropped rather than stored.
type authCache struct {
	mu sync.Mutex
	// gen counts invalidations; guarded by mu.
	gen uint64
	// rooms: room ID → its entry; guarded by mu.
	rooms map[string]*authEntry
}

// authEntry is what is known of one state group's auth events. A key mapped
// to nil is known to be absent from the state.
type authEntry struct {
	group  int64
	events map[stateKey]gomatrixserverlib.PDU
	// members are the joined members, when membersKnown; shared by every
	// reader, never modified.
	members      []Member
	membersKnown bool
}

// pendingAuth is what a write read at one generation: entries to add once it commits.
type pendingAuth struct {
	gen   uint64
	rooms map[string]*authEntry
}

func newAuthCache() *authCache { return &authCache{rooms: map[string]*authEntry{}} }

// begin returns the generation a write starts at.
func (c *authCache) begin() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// lookup returns the cached event for key in the room's state group and
// whether it is known (a known absence is nil, true).
func (c *authCache) lookup(roomID string, group int64, key stateKey) (gomatrixserverlib.PDU, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.rooms[roomID]
	if !ok || e.group != group {
		return nil, false
	}
	ev, ok := e.events[key]
	return ev, ok
}

// add stores what a committed write read, unless the cache was invalidated
// since that write began.
func (c *authCache) add(p *pendingAuth) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p.gen != c.gen {
		return
	}
	for roomID, pe := range p.rooms {
		e, ok := c.rooms[roomID]
		if !ok || e.group != pe.group {
			if len(c.rooms) >= maxAuthCacheRooms {
				clear(c.rooms)
			}
			c.rooms[roomID] = pe
			continue
		}
		for k, ev := range pe.events {
			e.events[k] = ev
		}
		if pe.membersKnown {
			e.members, e.membersKnown = pe.members, true
		}
	}
}

// lookupMembers returns the cached joined members of the room's state group.
func (c *authCache) lookupMembers(roomID string, group int64) ([]Member, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rooms[roomID].membersAt(group)
}

// invalidate forgets everything and drops fills begun before it.
func (c *authCache) invalidate() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	clear(c.rooms)
}

// note records in p an event (nil: absent) read for key in a room's group.
func (p *pendingAuth) note(roomID string, group int64, key stateKey, ev gomatrixserverlib.PDU) {
	p.entry(roomID, group).events[key] = ev
}

// noteMembers records in p the joined members read in a room's group.
func (p *pendingAuth) noteMembers(roomID string, group int64, members []Member) {
	e := p.entry(roomID, group)
	e.members, e.membersKnown = members, true
}

// entry returns p's entry for a room's group, replacing one of another group.
func (p *pendingAuth) entry(roomID string, group int64) *authEntry {
	e, ok := p.rooms[roomID]
	if !ok || e.group != group {
		e = &authEntry{group: group, events: map[stateKey]gomatrixserverlib.PDU{}}
		p.rooms[roomID] = e
	}
	return e
}

// lookupMembers is authCache.lookupMembers for what this write read itself.
func (p *pendingAuth) lookupMembers(roomID string, group int64) ([]Member, bool) {
	return p.rooms[roomID].membersAt(group)
}

// membersAt returns e's members if e is of group and knows them; e may be nil.
func (e *authEntry) membersAt(group int64) ([]Member, bool) {
	if e == nil || e.group != group || !e.membersKnown {
		return nil, false
	}
	return e.members, true
}

// lookup is authCache.lookup for what this write read itself.
func (p *pendingAuth) lookup(roomID string, group int64, key stateKey) (gomatrixserverlib.PDU, bool) {
	e, ok := p.rooms[roomID]
	if !ok || e.group != group {
		return nil, false
	}
	ev, ok := e.events[key]
	return ev, ok
}
