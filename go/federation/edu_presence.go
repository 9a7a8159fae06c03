package federation

import (
	"context"
	"encoding/json"
	"time"

	"github.com/matrix-org/gomatrixserverlib/spec"

	"hearth/go/ephemeral"
)

// Presence of other servers' users, from two sources: m.presence EDUs
// (server-server API, "Presence"), and the transport's list of reachable
// peers (WatchPresence): a peer is a browser tab or a headless process, so
// whether it is reachable is the presence its users have.

// maxPresencePerEDU bounds the users one m.presence EDU updates; the rest
// are ignored.
const maxPresencePerEDU = 100

// receivePresence applies an m.presence EDU, for origin's users who share a
// room with a local user only: nobody here could see anyone else's
// presence, and keeping it costs memory.
func (f *Federation) receivePresence(ctx context.Context, origin spec.ServerName, content spec.RawJSON) {
	var c struct {
		Push []struct {
			UserID    string `json:"user_id"`
			Presence  string `json:"presence"`
			StatusMsg string `json:"status_msg"`
		} `json:"push"`
	}
	if f.opts.Ephemeral == nil || json.Unmarshal(content, &c) != nil {
		return
	}
	ctx, cancel := applyContext(ctx)
	defer cancel()
	for _, p := range c.Push[:min(len(c.Push), maxPresencePerEDU)] {
		u, ok := ownUser(origin, p.UserID)
		if !ok {
			continue
		}
		shared, err := f.rooms.Query.SharesRoomWithLocalUser(ctx, u)
		if err != nil {
			log.WithError(err).Warn("check presence sender's rooms")
			return
		}
		if shared {
			f.opts.Ephemeral.SetPresence(u, p.Presence, p.StatusMsg)
		}
	}
}

// WatchPresence polls list (the transport's reachable peers; in the
// browser, bridge.KnownPeers) every interval until ctx ends: the users of a
// peer that appears are online, those of one that disappears offline.
// Without Options.Ephemeral it returns at once.
func (f *Federation) WatchPresence(ctx context.Context, list func() []string, interval time.Duration) {
	eph := f.opts.Ephemeral
	if eph == nil {
		return
	}
	set := func(server string, online bool) {
		users, err := f.rooms.Query.UsersOfServer(ctx, spec.ServerName(server))
		if err != nil {
			log.WithError(err).Warn("users of a peer")
			return
		}
		state := ephemeral.Offline
		if online {
			state = ephemeral.Online
		}
		for _, u := range users {
			if eph.GetPresence(u).State != state {
				eph.SetPresence(u, state, "")
			}
		}
	}
	known := map[string]bool{}
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		now := map[string]bool{}
		for _, p := range list() {
			if p == string(f.id.ServerName) {
				continue
			}
			now[p] = true
			if !known[p] {
				set(p, true)
			}
		}
		for p := range known {
			if !now[p] {
				set(p, false)
			}
		}
		known = now
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}
