package federation

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/matrix-org/gomatrixserverlib/spec"
)

// Read receipts between servers (server-server API, "Receipts"): public
// receipts go to every other server in the room; private ones
// (m.read.private) never leave their server, and are ignored if one arrives.

const privateReceipt = "m.read.private"

// receiptContent is room ID → receipt type → user ID → receipt.
type receiptContent map[string]map[string]map[string]receipt

type receipt struct {
	EventIDs []string `json:"event_ids"`
	Data     struct {
		TS       int64  `json:"ts"`
		ThreadID string `json:"thread_id,omitempty"` // "" unthreaded, "main" or a thread root
	} `json:"data"`
}

// SendReceipt tells the other servers in a room of a local user's public
// receipt. It returns at once (ephemeral.Options.SendReceipt).
func (f *Federation) SendReceipt(roomID, receiptType string, user spec.UserID, eventID, threadID string, ts int64) {
	if receiptType == privateReceipt {
		return
	}
	var r receipt
	r.EventIDs = []string{eventID}
	r.Data.TS, r.Data.ThreadID = ts, threadID
	f.sendEDU(roomID, eduReceipt, receiptContent{roomID: {receiptType: {user.String(): r}}})
}

// receiveReceipts stores the receipts of an m.receipt EDU whose users are
// of the sending server and joined to their rooms; false if none was.
func (f *Federation) receiveReceipts(ctx context.Context, origin spec.ServerName, content spec.RawJSON) bool {
	var c receiptContent
	if f.opts.Ephemeral == nil || json.Unmarshal(content, &c) != nil {
		return false
	}
	accepted := 0
	for roomID, byType := range c {
		for receiptType, byUser := range byType {
			if receiptType == privateReceipt {
				continue
			}
			for userID, r := range byUser {
				user, ok := f.memberOf(ctx, origin, roomID, userID)
				if !ok || len(r.EventIDs) == 0 || !validThreadID(r.Data.ThreadID) {
					continue
				}
				if err := f.opts.Ephemeral.ReceiveReceipt(ctx, roomID, receiptType, user, r.EventIDs[0], r.Data.ThreadID, r.Data.TS); err != nil {
					log.WithError(err).WithField("room_id", roomID).Warn("could not store a receipt")
					continue
				}
				accepted++
			}
		}
	}
	return accepted > 0
}

// validThreadID says whether a receipt's thread_id from another server can
// be stored: none, "main", or an event ID (a thread root).
func validThreadID(id string) bool {
	return id == "" || id == "main" || (strings.HasPrefix(id, "$") && len(id) <= 255)
}
