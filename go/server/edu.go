package server

import (
	"context"
	"encoding/json"
	"time"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"
	"github.com/sirupsen/logrus"

	"hearth/go/ephemeral"
	"hearth/go/federation"
	"hearth/go/keys"
	"hearth/go/room"
)

// EDUs (server-server API, "Ephemeral Data Units") between federation and
// the client API's stores. Incoming: federation hands every received EDU to
// receiveEDU, which checks that the origin speaks for its own users only.
// Outgoing: ephemeral's SendTyping and SendReceipt queue EDUs for the other
// servers in the room.

// eduTimeout bounds queueing one outgoing EDU, which runs after the client's
// request has been answered.
const eduTimeout = 30 * time.Second

// typingTimeoutOverFederation is how long a remote typing notice lasts: the
// m.typing EDU carries no timeout, and the spec lets servers choose.
const typingTimeoutOverFederation = 30 * time.Second

type eduRouter struct {
	eph   *ephemeral.Ephemeral
	keys  *keys.Keys
	rooms *room.Rooms
	queue *federation.Queue
	self  spec.ServerName
}

var eduLog = logrus.WithField("component", "edu")

// ownUser parses uid and reports whether it belongs to origin.
func ownUser(origin spec.ServerName, uid string) (spec.UserID, bool) {
	u, err := spec.NewUserID(uid, true)
	if err != nil || u.Domain() != origin {
		return spec.UserID{}, false
	}
	return *u, true
}

// receive applies one EDU from origin; malformed or forged ones are dropped.
func (e *eduRouter) receive(origin spec.ServerName, edu gomatrixserverlib.EDU) {
	ctx, cancel := context.WithTimeout(context.Background(), eduTimeout)
	defer cancel()
	switch edu.Type {
	case spec.MTyping:
		var c struct {
			RoomID string `json:"room_id"`
			UserID string `json:"user_id"`
			Typing bool   `json:"typing"`
		}
		if json.Unmarshal(edu.Content, &c) != nil {
			return
		}
		if u, ok := ownUser(origin, c.UserID); ok {
			e.eph.ReceiveTyping(c.RoomID, u, c.Typing, typingTimeoutOverFederation)
		}
	case spec.MReceipt:
		// room ID → receipt type → user ID → {data: {ts}, event_ids}
		var c map[string]map[string]map[string]struct {
			Data     struct{ TS int64 } `json:"data"`
			EventIDs []string           `json:"event_ids"`
		}
		if json.Unmarshal(edu.Content, &c) != nil {
			return
		}
		for roomID, byType := range c {
			for rtype, byUser := range byType {
				if rtype == ephemeral.ReceiptReadPrivate {
					continue // never federated; a server sending one is confused
				}
				for uid, r := range byUser {
					u, ok := ownUser(origin, uid)
					if !ok || len(r.EventIDs) == 0 {
						continue
					}
					if err := e.eph.ReceiveReceipt(ctx, roomID, rtype, u, r.EventIDs[len(r.EventIDs)-1], r.Data.TS); err != nil {
						eduLog.WithError(err).Warn("store remote receipt")
					}
				}
			}
		}
	case spec.MDirectToDevice:
		var c struct {
			Sender   string                                `json:"sender"`
			Type     string                                `json:"type"`
			Messages map[string]map[string]json.RawMessage `json:"messages"`
		}
		if json.Unmarshal(edu.Content, &c) != nil {
			return
		}
		if _, ok := ownUser(origin, c.Sender); ok {
			if err := e.keys.ReceiveToDevice(ctx, c.Sender, c.Type, c.Messages); err != nil {
				eduLog.WithError(err).Warn("store remote to-device messages")
			}
		}
	case spec.MDeviceListUpdate:
		var c struct {
			UserID string `json:"user_id"`
		}
		if json.Unmarshal(edu.Content, &c) != nil {
			return
		}
		if u, ok := ownUser(origin, c.UserID); ok {
			if err := e.keys.DeviceListChanged(ctx, u); err != nil {
				eduLog.WithError(err).Warn("record remote device list change")
			}
		}
	case spec.MPresence:
		var c struct {
			Push []struct {
				UserID    string `json:"user_id"`
				Presence  string `json:"presence"`
				StatusMsg string `json:"status_msg"`
			} `json:"push"`
		}
		if json.Unmarshal(edu.Content, &c) != nil {
			return
		}
		for _, p := range c.Push {
			if u, ok := ownUser(origin, p.UserID); ok {
				e.eph.SetPresence(u, p.Presence, p.StatusMsg)
			}
		}
	}
}

// toRoom queues an EDU for every other server joined to a room, in the
// background: the client has its answer already.
func (e *eduRouter) toRoom(roomID, eduType string, content any) {
	raw, err := json.Marshal(content)
	if err != nil {
		eduLog.WithError(err).Error("encode EDU")
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), eduTimeout)
		defer cancel()
		servers, err := e.rooms.JoinedServers(ctx, roomID)
		if err != nil {
			eduLog.WithError(err).WithField("room_id", roomID).Warn("find servers for EDU")
			return
		}
		for _, s := range servers {
			if s == e.self {
				continue
			}
			edu := gomatrixserverlib.EDU{Type: eduType, Origin: string(e.self), Destination: string(s), Content: raw}
			if err := e.queue.SendEDU(ctx, s, edu); err != nil {
				eduLog.WithError(err).WithField("destination", s).Warn("queue EDU")
			}
		}
	}()
}

func (e *eduRouter) sendTyping(roomID string, user spec.UserID, typing bool, _ time.Duration) {
	e.toRoom(roomID, spec.MTyping, map[string]any{"room_id": roomID, "user_id": user.String(), "typing": typing})
}

func (e *eduRouter) sendReceipt(roomID, receiptType string, user spec.UserID, eventID string, ts int64) {
	e.toRoom(roomID, spec.MReceipt, map[string]any{roomID: map[string]any{receiptType: map[string]any{
		user.String(): map[string]any{"data": map[string]int64{"ts": ts}, "event_ids": []string{eventID}},
	}}})
}
