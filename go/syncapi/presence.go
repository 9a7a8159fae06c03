package syncapi

import (
	"context"
	"maps"
	"slices"
	"time"

	"github.com/matrix-org/gomatrixserverlib/spec"

	"hearth/go/ephemeral"
	"hearth/go/room"
)

// presence fills the presence of an initial or incremental sync: the changes
// since the token of users who share a room with the user, and, when
// memberChanges shows new room mates (or the user joined a room), the
// current presence of those mates even if it did not change, so that a
// newly shared room shows who is online (client-server API, "Presence").
func (s *Syncer) presence(ctx context.Context, req Request, since Token, memberChanges []room.MemberChange, resp *Response) error {
	eph := s.src.Ephemeral
	if eph == nil || !req.Filter.Presence.allowsType("m.presence") {
		return nil
	}
	changed := eph.PresenceSince(since.Ephemeral)
	if len(changed) == 0 && len(memberChanges) == 0 {
		return nil
	}
	// A user sees the presence of those they share a room with, no one else's.
	mates, err := s.rooms.RoomMates(ctx, req.User)
	if err != nil {
		return err
	}
	shown := map[string]bool{}
	for _, p := range changed {
		if mates[p.UserID] {
			resp.Presence.Events = append(resp.Presence.Events, presenceEvent(p))
			shown[p.UserID] = true
		}
	}
	var newMates []string
	for _, c := range memberChanges {
		if c.Membership != spec.Join {
			continue
		}
		if c.UserID == req.User.String() { // the user joined a room: every mate may be new
			newMates = slices.Collect(maps.Keys(mates))
			break
		}
		newMates = append(newMates, c.UserID)
	}
	for _, id := range newMates {
		if shown[id] || !mates[id] || id == req.User.String() {
			continue
		}
		u, err := spec.NewUserID(id, true)
		if err != nil {
			continue
		}
		if p := eph.GetPresence(*u); p.Pos > 0 { // known, not the default
			resp.Presence.Events = append(resp.Presence.Events, presenceEvent(p))
			shown[id] = true
		}
	}
	return nil
}

// presenceEvent is an m.presence event as /sync shows it.
func presenceEvent(p ephemeral.Presence) map[string]any {
	content := map[string]any{"presence": p.State, "currently_active": p.CurrentActive}
	if !p.LastActive.IsZero() {
		content["last_active_ago"] = time.Since(p.LastActive).Milliseconds()
	}
	if p.StatusMsg != "" {
		content["status_msg"] = p.StatusMsg
	}
	return map[string]any{"type": "m.presence", "sender": p.UserID, "content": content}
}
