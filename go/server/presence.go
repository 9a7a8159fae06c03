package server

import (
	"context"
	"time"

	"github.com/matrix-org/gomatrixserverlib/spec"

	"hearth/go/ephemeral"
	"hearth/go/room"
)

// WatchPresence polls the transport's list of reachable peers every interval
// until ctx ends: the users of a peer that appears are online, those of one
// that disappears offline. A peer is a browser tab or a headless process,
// so reachability is the presence its users have. In the browser, list is
// bridge.KnownPeers.
func (s *Server) WatchPresence(ctx context.Context, list func() []string, interval time.Duration) {
	watchPresence(ctx, s.rooms, s.eph, s.Identity.ServerName, list, interval)
}

func watchPresence(ctx context.Context, rooms *room.Rooms, eph *ephemeral.Ephemeral, self spec.ServerName,
	list func() []string, interval time.Duration) {
	known := map[string]bool{}
	set := func(server string, online bool) {
		users, err := rooms.UsersOfServer(ctx, spec.ServerName(server))
		if err != nil {
			eduLog.WithError(err).Warn("users of a peer")
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
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		now := map[string]bool{}
		for _, p := range list() {
			if p == string(self) {
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
