package federation

import (
	"context"
	"time"

	"github.com/matrix-org/gomatrixserverlib/spec"
)

// WatchPeers polls the transport's list of reachable peers every interval
// until ctx ends, and calls PeerOnline for each peer that appears: a
// returning peer gets what was queued for it at once instead of after the
// back-off. In the browser, list is bridge.KnownPeers.
func (f *Federation) WatchPeers(ctx context.Context, list func() []string, interval time.Duration) {
	known := map[string]bool{}
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		now := map[string]bool{}
		for _, p := range list() {
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
