package federation

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"
)

// To-device messages between servers (server-server API, "Send-to-device
// messaging"): one m.direct_to_device EDU per destination server; package
// keys stores what arrives (only for devices that exist, bounded per
// server, once per message ID).

type toDeviceContent struct {
	Sender    string                                `json:"sender"`
	Type      string                                `json:"type"`
	MessageID string                                `json:"message_id"`
	Messages  map[string]map[string]json.RawMessage `json:"messages"`
}

// SendToDevice queues to-device messages for another server's users
// (keys.Options.SendRemote).
func (f *Federation) SendToDevice(ctx context.Context, sender spec.UserID, evType string, server spec.ServerName,
	messages map[string]map[string]json.RawMessage) error {
	id := make([]byte, 12)
	if _, err := rand.Read(id); err != nil {
		return fmt.Errorf("make message ID: %w", err)
	}
	content, err := json.Marshal(toDeviceContent{Sender: sender.String(), Type: evType, MessageID: hex.EncodeToString(id), Messages: messages})
	if err != nil {
		return fmt.Errorf("encode to-device EDU: %w", err)
	}
	return f.queue.SendEDU(ctx, server, gomatrixserverlib.EDU{
		Type: spec.MDirectToDevice, Origin: string(f.id.ServerName), Destination: string(server), Content: content,
	})
}

// receiveToDevice stores the messages of an m.direct_to_device EDU sent by
// one of origin's users.
func (f *Federation) receiveToDevice(ctx context.Context, origin spec.ServerName, content spec.RawJSON) {
	var c toDeviceContent
	if f.opts.Keys == nil || json.Unmarshal(content, &c) != nil {
		return
	}
	if _, ok := ownUser(origin, c.Sender); !ok {
		return
	}
	ctx, cancel := applyContext(ctx)
	defer cancel()
	if err := f.opts.Keys.ReceiveRemoteToDevice(ctx, origin, c.MessageID, c.Sender, c.Type, c.Messages); err != nil {
		log.WithError(err).Warn("store remote to-device messages")
	}
}
