package federation

import (
	"context"
	"encoding/json"
	"time"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"
)

// Typing notifications and read receipts between servers (server-server
// API, "Typing Notifications" and "Receipts"): EDUs, sent through each
// destination's queue beside the PDUs, and taken in from transactions after
// checking that the user is of the sending server and joined to the room.
// The client side (package ephemeral) plugs in through Options.Typing and
// Options.Receipt (in) and calls SendTyping and SendReceipt (out).

// EDU types.
const (
	eduTyping  = "m.typing"
	eduReceipt = "m.receipt"
)

// remoteTypingTimeout is how long a remote user's typing lasts without a
// renewal: the m.typing EDU carries no timeout, and servers resend it while
// the user types.
const remoteTypingTimeout = 30 * time.Second

// eduSendTimeout bounds the queueing of one outgoing EDU.
const eduSendTimeout = 10 * time.Second

type typingContent struct {
	RoomID string `json:"room_id"`
	UserID string `json:"user_id"`
	Typing bool   `json:"typing"`
}

// receiptContent is room ID → receipt type → user ID → receipt.
type receiptContent map[string]map[string]map[string]receipt

type receipt struct {
	EventIDs []string `json:"event_ids"`
	Data     struct {
		TS int64 `json:"ts"`
	} `json:"data"`
}

// SendTyping tells the other servers in a room that a local user started or
// stopped typing. It returns at once (ephemeral.Options.SendTyping).
func (f *Federation) SendTyping(roomID string, user spec.UserID, typing bool, _ time.Duration) {
	f.sendEDU(roomID, eduTyping, typingContent{RoomID: roomID, UserID: user.String(), Typing: typing})
}

// SendReceipt tells the other servers in a room of a local user's public
// receipt. It returns at once (ephemeral.Options.SendReceipt); private
// receipts (m.read.private) never leave this server.
func (f *Federation) SendReceipt(roomID, receiptType string, user spec.UserID, eventID string, ts int64) {
	if receiptType == "m.read.private" {
		return
	}
	var r receipt
	r.EventIDs = []string{eventID}
	r.Data.TS = ts
	f.sendEDU(roomID, eduReceipt, receiptContent{roomID: {receiptType: {user.String(): r}}})
}

// sendEDU queues an EDU for every other server joined to a room, in the
// background.
func (f *Federation) sendEDU(roomID, eduType string, content any) {
	raw, err := json.Marshal(content)
	if err != nil {
		log.WithError(err).Error("encode EDU")
		return
	}
	f.background(func(ctx context.Context) {
		servers, err := f.rooms.JoinedServers(ctx, roomID)
		if err != nil {
			log.WithError(err).WithField("room_id", roomID).Warn("no servers to send an EDU to")
			return
		}
		edu := gomatrixserverlib.EDU{Type: eduType, Origin: string(f.id.ServerName), Content: raw}
		for _, dest := range f.candidates(servers) {
			if err := f.queue.SendEDU(ctx, dest, edu); err != nil {
				log.WithError(err).WithField("destination", dest).Warn("could not queue an EDU")
			}
		}
	})
}

// background runs fn on its own goroutine with a bounded context.
func (f *Federation) background(fn func(ctx context.Context)) {
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), eduSendTimeout)
		defer cancel()
		fn(ctx)
	}()
}

// receiveEDU takes in one EDU of a transaction from origin. Typing and
// receipt EDUs that fail their checks are dropped; what passes, and every
// other EDU, goes on to Options.EDU.
func (f *Federation) receiveEDU(ctx context.Context, origin spec.ServerName, edu gomatrixserverlib.EDU) {
	switch edu.Type {
	case eduTyping:
		var c typingContent
		if json.Unmarshal(edu.Content, &c) != nil {
			return
		}
		user, ok := f.memberOf(ctx, origin, c.RoomID, c.UserID)
		if !ok {
			return
		}
		timeout := time.Duration(0)
		if c.Typing {
			timeout = remoteTypingTimeout
		}
		f.opts.Typing(c.RoomID, user, c.Typing, timeout)
	case eduReceipt:
		var c receiptContent
		if json.Unmarshal(edu.Content, &c) != nil {
			return
		}
		accepted := 0
		for roomID, byType := range c {
			for receiptType, byUser := range byType {
				if receiptType == "m.read.private" {
					continue
				}
				for userID, r := range byUser {
					user, ok := f.memberOf(ctx, origin, roomID, userID)
					if !ok || len(r.EventIDs) == 0 {
						continue
					}
					if err := f.opts.Receipt(ctx, roomID, receiptType, user, r.EventIDs[0], r.Data.TS); err != nil {
						log.WithError(err).WithField("room_id", roomID).Warn("could not store a receipt")
						continue
					}
					accepted++
				}
			}
		}
		if accepted == 0 {
			return
		}
	}
	f.opts.EDU(origin, edu)
}

// memberOf checks that userID is a user of origin joined to the room: a
// server speaks only for its own users, in rooms they are in.
func (f *Federation) memberOf(ctx context.Context, origin spec.ServerName, roomID, userID string) (spec.UserID, bool) {
	user, err := spec.NewUserID(userID, true)
	if err != nil || user.Domain() != origin {
		return spec.UserID{}, false
	}
	m, err := f.rooms.MembershipOf(ctx, roomID, *user)
	if err != nil || m != spec.Join {
		return spec.UserID{}, false
	}
	return *user, true
}
