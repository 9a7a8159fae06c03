package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"
	"github.com/sirupsen/logrus"

	"hearth/go/ephemeral"
	"hearth/go/federation"
	"hearth/go/keys"
	"hearth/go/room"
)

// EDUs (server-server API, "Ephemeral Data Units") that federation passes
// on (Options.EDU) without applying: to-device messages, device list updates
// and presence. Federation handles typing and receipts itself. A server
// speaks only for its own users: anything about another server's users is
// dropped.

// eduTimeout bounds storing what one EDU brings.
const eduTimeout = 30 * time.Second

// maxPresencePerEDU bounds the users one m.presence EDU updates; the rest
// are ignored.
const maxPresencePerEDU = 100

type eduRouter struct {
	eph   *ephemeral.Ephemeral
	keys  *keys.Keys
	rooms *room.Rooms
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
	case spec.MDirectToDevice:
		var c struct {
			Sender    string                                `json:"sender"`
			Type      string                                `json:"type"`
			MessageID string                                `json:"message_id"`
			Messages  map[string]map[string]json.RawMessage `json:"messages"`
		}
		if json.Unmarshal(edu.Content, &c) != nil {
			return
		}
		if _, ok := ownUser(origin, c.Sender); ok {
			if err := e.keys.ReceiveRemoteToDevice(ctx, origin, c.MessageID, c.Sender, c.Type, c.Messages); err != nil {
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
		// Only users who share a room with one of ours: nobody here could see
		// anyone else's presence, and keeping it costs memory.
		for _, p := range c.Push[:min(len(c.Push), maxPresencePerEDU)] {
			u, ok := ownUser(origin, p.UserID)
			if !ok {
				continue
			}
			shared, err := e.rooms.SharesRoomWithLocalUser(ctx, u)
			if err != nil {
				eduLog.WithError(err).Warn("check presence sender's rooms")
				return
			}
			if shared {
				e.eph.SetPresence(u, p.Presence, p.StatusMsg)
			}
		}
	}
}

// sendToDeviceEDU queues to-device messages for another server's users as
// an m.direct_to_device EDU (keys.Options.SendRemote).
func sendToDeviceEDU(ctx context.Context, queue *federation.Queue, self spec.ServerName, sender spec.UserID, evType string,
	server spec.ServerName, messages map[string]map[string]json.RawMessage) error {
	id := make([]byte, 12)
	if _, err := rand.Read(id); err != nil {
		return fmt.Errorf("make message ID: %w", err)
	}
	content, err := json.Marshal(map[string]any{
		"sender": sender.String(), "type": evType, "message_id": hex.EncodeToString(id), "messages": messages,
	})
	if err != nil {
		return fmt.Errorf("encode to-device EDU: %w", err)
	}
	return queue.SendEDU(ctx, server, gomatrixserverlib.EDU{
		Type: spec.MDirectToDevice, Origin: string(self), Destination: string(server), Content: content,
	})
}

// sendDeviceListUpdate tells every other server that shares a room with
// user that one of user's devices changed (m.device_list_update), so their
// clients query the new keys. stream_id is a clock reading: it only has to
// grow, and prev_id is left empty, which tells receivers to resync the list.
func sendDeviceListUpdate(rooms *room.Rooms, queue *federation.Queue, self spec.ServerName, user spec.UserID, deviceID string, keys json.RawMessage) {
	ctx, cancel := context.WithTimeout(context.Background(), eduTimeout)
	defer cancel()
	content := map[string]any{
		"user_id": user.String(), "device_id": deviceID, "stream_id": time.Now().UnixNano(),
		"prev_id": []int64{}, "deleted": keys == nil,
	}
	if keys != nil {
		content["keys"] = keys
	}
	raw, err := json.Marshal(content)
	if err != nil {
		eduLog.WithError(err).Error("encode device list update")
		return
	}
	joined, err := rooms.JoinedRooms(ctx, user)
	if err != nil {
		eduLog.WithError(err).Warn("rooms for a device list update")
		return
	}
	sent := map[spec.ServerName]bool{self: true}
	for _, roomID := range joined {
		servers, err := rooms.JoinedServers(ctx, roomID)
		if err != nil {
			continue
		}
		for _, s := range servers {
			if sent[s] {
				continue
			}
			sent[s] = true
			edu := gomatrixserverlib.EDU{Type: spec.MDeviceListUpdate, Origin: string(self), Destination: string(s), Content: raw}
			if err := queue.SendEDU(ctx, s, edu); err != nil {
				eduLog.WithError(err).WithField("destination", s).Warn("queue device list update")
			}
		}
	}
}
