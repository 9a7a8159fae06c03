package federation

import (
	"context"
	"encoding/json"
	"time"

	"github.com/matrix-org/gomatrixserverlib/spec"
)

// Typing notifications between servers (server-server API, "Typing
// Notifications"): the users' own server sends m.typing to every other
// server in the room; a receiver shows it once the user is of the sending
// server and joined to the room.

// remoteTypingTimeout is how long a remote user's typing lasts without a
// renewal: the m.typing EDU carries no timeout, and servers resend it while
// the user types.
const remoteTypingTimeout = 30 * time.Second

type typingContent struct {
	RoomID string `json:"room_id"`
	UserID string `json:"user_id"`
	Typing bool   `json:"typing"`
}

// SendTyping tells the other servers in a room that a local user started or
// stopped typing. It returns at once (ephemeral.Options.SendTyping).
func (f *Federation) SendTyping(roomID string, user spec.UserID, typing bool, _ time.Duration) {
	f.sendEDU(roomID, eduTyping, typingContent{RoomID: roomID, UserID: user.String(), Typing: typing})
}

// receiveTyping applies an m.typing EDU; false if it was dropped.
func (f *Federation) receiveTyping(ctx context.Context, origin spec.ServerName, content spec.RawJSON) bool {
	var c typingContent
	if f.opts.Ephemeral == nil || json.Unmarshal(content, &c) != nil {
		return false
	}
	user, ok := f.memberOf(ctx, origin, c.RoomID, c.UserID)
	if !ok {
		return false
	}
	timeout := time.Duration(0)
	if c.Typing {
		timeout = remoteTypingTimeout
	}
	f.opts.Ephemeral.ReceiveTyping(c.RoomID, user, c.Typing, timeout)
	return true
}
