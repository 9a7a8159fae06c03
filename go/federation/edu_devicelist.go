package federation

import (
	"context"
	"encoding/json"
	"time"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"
)

// Device list updates between servers (server-server API, "Device
// Management"): when a local user's device changes, every server sharing a
// room with them gets m.device_list_update, so its clients query the new
// keys; one arriving marks that user's list changed (package keys).

// SendDeviceListUpdate tells every other server that shares a room with
// user that one of user's devices changed; keys is the device's new keys,
// nil when it was deleted. It returns at once (keys.Options.DeviceChanged).
// stream_id is a wall clock reading (not Options.Now, which tests may
// freeze): it only has to grow, and prev_id is left
// empty, which tells receivers to resync the list.
func (f *Federation) SendDeviceListUpdate(user spec.UserID, deviceID string, keys json.RawMessage) {
	content := map[string]any{
		"user_id": user.String(), "device_id": deviceID, "stream_id": time.Now().UnixNano(),
		"prev_id": []int64{}, "deleted": keys == nil,
	}
	if keys != nil {
		content["keys"] = keys
	}
	raw, err := json.Marshal(content)
	if err != nil {
		log.WithError(err).Error("encode device list update")
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), eduApplyTimeout)
		defer cancel()
		joined, err := f.rooms.Query.JoinedRooms(ctx, user)
		if err != nil {
			log.WithError(err).Warn("rooms for a device list update")
			return
		}
		var servers []spec.ServerName
		for _, roomID := range joined {
			inRoom, err := f.rooms.Query.JoinedServers(ctx, roomID)
			if err != nil {
				continue
			}
			servers = append(servers, inRoom...)
		}
		for _, dest := range f.candidates(servers) {
			edu := gomatrixserverlib.EDU{Type: spec.MDeviceListUpdate, Origin: string(f.id.ServerName), Destination: string(dest), Content: raw}
			if err := f.queue.SendEDU(ctx, dest, edu); err != nil {
				log.WithError(err).WithField("destination", dest).Warn("queue device list update")
			}
		}
	}()
}

// receiveDeviceListUpdate records that one of origin's users changed a device.
func (f *Federation) receiveDeviceListUpdate(ctx context.Context, origin spec.ServerName, content spec.RawJSON) {
	var c struct {
		UserID string `json:"user_id"`
	}
	if f.opts.Keys == nil || json.Unmarshal(content, &c) != nil {
		return
	}
	user, ok := ownUser(origin, c.UserID)
	if !ok {
		return
	}
	ctx, cancel := applyContext(ctx)
	defer cancel()
	if err := f.opts.Keys.DeviceListChanged(ctx, user); err != nil {
		log.WithError(err).Warn("record remote device list change")
	}
}
