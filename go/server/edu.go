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
)

// EDUs (server-server API, "Ephemeral Data Units") that federation passes
// on (Options.EDU) without applying: to-device messages, device list updates
// and presence. Federation handles typing and receipts itself. A server
// speaks only for its own users: anything about another server's users is
// dropped.

// eduTimeout bounds storing what one EDU brings.
const eduTimeout = 30 * time.Second

type eduRouter struct {
	eph  *ephemeral.Ephemeral
	keys *keys.Keys
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
