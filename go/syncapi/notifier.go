package syncapi

import (
	"context"
	"sync"

	"hearth/go/room"
)

// Notifier wakes long-polling /sync requests when anything a sync reports
// changes: new events, data-stream rows (account data, receipts, keys,
// to-device) or typing and presence.
type Notifier struct {
	mu     sync.Mutex
	latest Token // guarded by mu
	// changed is closed and replaced whenever latest advances; guarded by mu.
	changed chan struct{}
}

// NewNotifier starts at the given position.
func NewNotifier(latest Token) *Notifier {
	return &Notifier{latest: latest, changed: make(chan struct{})}
}

// Advance records a new newest event position and wakes every waiter.
func (n *Notifier) Advance(pos room.StreamPos) {
	n.update(func(t *Token) bool {
		if pos <= t.Events {
			return false
		}
		t.Events = pos
		return true
	})
}

// AdvanceData records a new newest data-stream position and wakes every waiter.
func (n *Notifier) AdvanceData(pos int64) {
	n.update(func(t *Token) bool {
		if pos <= t.Data {
			return false
		}
		t.Data = pos
		return true
	})
}

// AdvanceEphemeral records a new typing-or-presence position and wakes every waiter.
func (n *Notifier) AdvanceEphemeral(pos int64) {
	n.update(func(t *Token) bool {
		if pos <= t.Ephemeral {
			return false
		}
		t.Ephemeral = pos
		return true
	})
}

func (n *Notifier) update(fn func(*Token) bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !fn(&n.latest) {
		return
	}
	close(n.changed)
	n.changed = make(chan struct{})
}

// Wait blocks until some part of the latest token is past since, or ctx
// ends, and returns the latest token.
func (n *Notifier) Wait(ctx context.Context, since Token) Token {
	for {
		n.mu.Lock()
		latest, changed := n.latest, n.changed
		n.mu.Unlock()
		if latest.after(since) {
			return latest
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return latest
		}
	}
}

// Latest returns the newest token.
func (n *Notifier) Latest() Token {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.latest
}
