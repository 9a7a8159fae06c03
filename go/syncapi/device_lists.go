package syncapi

import (
	"context"
	"slices"
)

// deviceLists fills the device_lists of an incremental sync (client-server
// API, "End-to-end encryption", "Extensions to /sync"): changed holds the
// users who share a room with the user and whose keys changed or whose
// membership changed (a new room mate's devices must be fetched); left holds
// those whose membership changed and who share no room with the user any
// more, so the client stops tracking their devices.
func (s *Syncer) deviceLists(ctx context.Context, req Request, since, latest Token, memberChanges []string, resp *Response) error {
	keyChanges, err := s.src.Keys.Changes(ctx, since.Data, latest.Data)
	if err != nil {
		return err
	}
	if len(keyChanges) == 0 && len(memberChanges) == 0 {
		return nil
	}
	mates, err := s.rooms.RoomMates(ctx, req.User)
	if err != nil {
		return err
	}
	me := req.User.String()
	for _, uid := range keyChanges {
		if mates[uid] {
			resp.DeviceLists.Changed = append(resp.DeviceLists.Changed, uid)
		}
	}
	for _, uid := range memberChanges {
		switch {
		case uid == me:
		case mates[uid]:
			if !slices.Contains(resp.DeviceLists.Changed, uid) {
				resp.DeviceLists.Changed = append(resp.DeviceLists.Changed, uid)
			}
		default:
			resp.DeviceLists.Left = append(resp.DeviceLists.Left, uid)
		}
	}
	return nil
}
