package push

import (
	"sync"

	"hearth/go/room"
)

// caughtUp remembers, per local user and room, two positions this process
// saw in the writes that stored them: the user's newest own event there
// (once committed) and the newest event that notified them (from its write
// on, committed or not). With the own event the newer, the user has read
// everything in the room (unreadSQL: their own event is a read position for
// every thread), so Unread needs no statement: the /sync that brings a
// user's own message back to them is the one a sender waits for.
//
// Positions grow, so a notification stored before this process started is
// older than any event it saw; a notification written now is noted before
// its commit, hence before any /sync can count it.
type caughtUp struct {
	mu   sync.Mutex
	seen map[userRoom]seenPositions
}

type userRoom struct{ user, room string }

type seenPositions struct {
	own, notified room.StreamPos
}

// ownEvent notes a committed event of user in a room.
func (c *caughtUp) ownEvent(user, roomID string, pos room.StreamPos) {
	c.note(user, roomID, func(s *seenPositions) { s.own = max(s.own, pos) })
}

// notified notes an event that notifies user, as its notification is written.
func (c *caughtUp) notified(user, roomID string, pos room.StreamPos) {
	c.note(user, roomID, func(s *seenPositions) { s.notified = max(s.notified, pos) })
}

func (c *caughtUp) note(user, roomID string, update func(*seenPositions)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen == nil {
		c.seen = map[userRoom]seenPositions{}
	}
	key := userRoom{user, roomID}
	s := c.seen[key]
	update(&s)
	c.seen[key] = s
}

// nothingUnread reports whether user has read everything in the room, as
// far as this process saw; false when it cannot tell.
func (c *caughtUp) nothingUnread(user, roomID string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.seen[userRoom{user, roomID}]
	return ok && s.own > 0 && s.notified < s.own
}
