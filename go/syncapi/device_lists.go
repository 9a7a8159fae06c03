package syncapi

import (
	"context"
	"slices"

	"github.com/matrix-org/gomatrixserverlib/spec"

	"hearth/go/room"
)

// deviceLists fills the device_lists of an incremental sync (client-server
// API, "End-to-end encryption", "Extensions to /sync"): changed holds the
// users who share a room with the user and whose keys changed, or who joined
// a room the user is in (a new room mate's devices must be fetched); left
// holds those who left or were removed from a room the user is in, or whose
// room the user left, and who share no room with the user any more, so the
// client stops tracking their devices.
func (s *Syncer) deviceLists(ctx context.Context, req Request, since, latest Token, memberChanges []room.MemberChange, resp *Response) error {
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
	changed := func(uid string) {
		if uid != me && mates[uid] && !slices.Contains(resp.DeviceLists.Changed, uid) {
			resp.DeviceLists.Changed = append(resp.DeviceLists.Changed, uid)
		}
	}
	left := func(uid string) {
		if uid != me && !mates[uid] && !slices.Contains(resp.DeviceLists.Left, uid) {
			resp.DeviceLists.Left = append(resp.DeviceLists.Left, uid)
		}
	}
	for _, uid := range keyChanges {
		changed(uid)
	}
	for _, c := range memberChanges {
		gone := c.Membership == spec.Leave || c.Membership == spec.Ban
		switch {
		case c.UserID == me && gone:
			// The user left the room: its members may be strangers now.
			members, err := s.rooms.CurrentMembers(ctx, c.RoomID)
			if err != nil {
				return err
			}
			for _, ev := range members {
				if m, _ := ev.Membership(); m == spec.Join {
					left(*ev.StateKey())
				}
			}
		case c.UserID == me:
		case gone:
			left(c.UserID)
		case c.Membership == spec.Join:
			changed(c.UserID)
		}
	}
	return nil
}
