package federation

import (
	"context"
	"encoding/json"
	"time"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"
)

// EDUs (server-server API, "Ephemeral Data Units"), in and out, all in this
// package; the stores they change (packages ephemeral and keys) know nothing
// of federation:
//
//	m.typing              edu_typing.go     Options.Ephemeral; SendTyping
//	m.receipt             edu_receipt.go    Options.Ephemeral; SendReceipt
//	m.presence            edu_presence.go   Options.Ephemeral; WatchPresence
//	                                        (presence from peers' reachability)
//	m.direct_to_device    edu_todevice.go   Options.Keys; SendToDevice
//	m.device_list_update  edu_devicelist.go Options.Keys; SendDeviceListUpdate
//
// Outgoing EDUs go through each destination's queue beside the PDUs. A
// server speaks only for its own users: an incoming EDU about another
// server's users, or a malformed one, is dropped.

// EDU types this package sends and takes in beside the spec package's.
const (
	eduTyping  = "m.typing"
	eduReceipt = "m.receipt"
)

// eduSendTimeout bounds the queueing of one outgoing EDU.
const eduSendTimeout = 10 * time.Second

// eduApplyTimeout bounds storing what one incoming to-device, device list or
// presence EDU brings, and sending one device list update.
const eduApplyTimeout = 30 * time.Second

// receiveEDU takes in one EDU of a transaction from origin. Typing and
// receipt EDUs that fail their checks stop here; what passes, and every
// other EDU, goes on to Options.EDU once applied.
func (f *Federation) receiveEDU(ctx context.Context, origin spec.ServerName, edu gomatrixserverlib.EDU) {
	switch edu.Type {
	case eduTyping:
		if !f.receiveTyping(ctx, origin, edu.Content) {
			return
		}
	case eduReceipt:
		if !f.receiveReceipts(ctx, origin, edu.Content) {
			return
		}
	case spec.MDirectToDevice:
		f.receiveToDevice(ctx, origin, edu.Content)
	case spec.MDeviceListUpdate:
		f.receiveDeviceListUpdate(ctx, origin, edu.Content)
	case spec.MPresence:
		f.receivePresence(ctx, origin, edu.Content)
	}
	f.opts.EDU(origin, edu)
}

// applyContext is the context an incoming EDU is stored under: the
// transaction's values, not its cancellation (its sender may hang up once
// the transaction is answered), and eduApplyTimeout.
func applyContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), eduApplyTimeout)
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
		servers, err := f.rooms.Query.JoinedServers(ctx, roomID)
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

// ownUser parses userID and reports whether it is a user of origin.
func ownUser(origin spec.ServerName, userID string) (spec.UserID, bool) {
	u, err := spec.NewUserID(userID, true)
	if err != nil || u.Domain() != origin {
		return spec.UserID{}, false
	}
	return *u, true
}

// memberOf checks that userID is a user of origin joined to the room: a
// server speaks only for its own users, in rooms they are in.
func (f *Federation) memberOf(ctx context.Context, origin spec.ServerName, roomID, userID string) (spec.UserID, bool) {
	user, ok := ownUser(origin, userID)
	if !ok {
		return spec.UserID{}, false
	}
	m, err := f.rooms.Query.MembershipOf(ctx, roomID, user)
	if err != nil || m != spec.Join {
		return spec.UserID{}, false
	}
	return user, true
}
