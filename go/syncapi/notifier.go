package syncapi

import (
	"context"
	"sync"

	"hearth/go/room"
)

// Notifier wakes long-polling /sync requests when new events commit.
type Notifier struct {
	mu     sync.Mutex
	latest room.StreamPos // guarded by mu
	// changed is closed and replaced whenever latest advances; guarded by mu.
	changed chan struct{}
}

// NewNotifier starts at the given stream position.
func NewNotifier(latest room.StreamPos) *Notifier {
	return &Notifier{latest: latest, changed: make(chan struct{})}
}

// Advance records a new latest position and wakes every waiter.
func (n *Notifier) Advance(pos room.StreamPos) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if pos <= n.latest {
		return
	}
	n.latest = pos
	close(n.changed)
	n.changed = make(chan struct{})
}

// Wait blocks until the latest position is past since or ctx ends, and
// returns the latest position.
func (n *Notifier) Wait(ctx context.Context, since room.StreamPos) room.StreamPos {
	for {
		n.mu.Lock()
		latest, changed := n.latest, n.changed
		n.mu.Unlock()
		if latest > since {
			return latest
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return latest
		}
	}
}

// Latest returns the newest position.
func (n *Notifier) Latest() room.StreamPos {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.latest
}
