package federation

import (
	"context"
	"time"

	"github.com/matrix-org/gomatrixserverlib/spec"
)

// WatchPeers polls the transport's reachable peers every interval until ctx
// ends, and calls PeerOnline for each peer that appears: a returning peer gets
// what was queued for it at once instead of after the back-off. reachable is
// given the servers this one shares rooms with, the only ones it asks about
// (Watched); in the browser it is bridge.WatchedPeers.
func (f *Federation) WatchPeers(ctx context.Context, reachable func(watch []string) []string, interval time.Duration) {
	known := map[string]bool{}
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		now := map[string]bool{}
		for _, p := range reachable(f.Watched(ctx)) {
			now[p] = true
			if !known[p] {
				f.PeerOnline(spec.ServerName(p))
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

// Watched returns the other servers this one shares a room with: the peers
// whose coming and going it follows. Asking the relays about these only means
// no peer learns who else is online (issue 17); others are found by routing
// when there is something to send them.
func (f *Federation) Watched(ctx context.Context) []string {
	servers, err := f.rooms.Query.AllJoinedServers(ctx)
	if err != nil {
		log.WithError(err).Warn("servers to watch")
		return nil
	}
	var out []string
	for _, s := range f.candidates(servers) {
		out = append(out, string(s))
	}
	return out
}
