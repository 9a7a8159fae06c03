// Package push decides which new events notify which local users, keeps
// those notifications (unread counts, GET /notifications), and delivers them
// to the users' HTTP pushers (client-server API v1.11, "Push Notifications";
// push gateway API v1.11). The rules themselves, and how they are
// evaluated, are package pushrules'.
//
// Every new timeline event of a room (package room's NewEventHook: local
// sends and accepted events from other servers alike) is evaluated, inside
// the write that stores it, for each local member joined to the room but its
// sender, and for the target of an invite. A notification is stored with the
// event; the pushers hear of it once the write has committed.
//
// A user has read a room up to the later of their read receipts (m.read,
// m.read.private) and their own latest event there: notifications after that
// are unread.
package push

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/matrix-org/gomatrixserverlib/spec"
	"github.com/sirupsen/logrus"

	"hearth/go/account"
	"hearth/go/accountdata"
	"hearth/go/storage"
)

// Gateway carries one notification to a push gateway: an HTTP POST of body
// (JSON) to url. Natively it is HTTPGateway (net/http); in the browser and
// under Node, bridge.PushGateway (the JS layer's fetch): networking belongs
// to JS there.
type Gateway interface {
	Notify(ctx context.Context, url string, body []byte) (status int, response []byte, err error)
}

// Options configure Push; zero values are production defaults.
type Options struct {
	Now func() time.Time // nil: time.Now
	// Gateway delivers to HTTP pushers; nil: notifications are kept, not pushed.
	Gateway Gateway
	// Pushers lists and removes the users' pushers; nil: nothing is pushed.
	Pushers *account.Accounts
	// Retry bounds the attempts to reach a gateway; zero: DefaultRetry.
	Retry Retry
}

// Retry is how often and how patiently a failed push is tried again: after
// First, then twice as long each time up to Max, at most Attempts tries in all.
type Retry struct {
	Attempts int
	First    time.Duration
	Max      time.Duration
}

// DefaultRetry tries for about a quarter of an hour: a phone that misses a
// message for longer learns of it from its next sync anyway.
func DefaultRetry() Retry {
	return Retry{Attempts: 8, First: 2 * time.Second, Max: 5 * time.Minute}
}

// maxQueued bounds the pushes waiting for a worker: past it, new ones are
// dropped (and logged) rather than holding memory without limit.
const maxQueued = 1024

// workers is how many pushes are in flight at once.
const workers = 4

// maxRetrying bounds the failed pushes waiting for their next attempt: a
// gateway that is down for long must not make them pile up.
const maxRetrying = 1024

// Push is the notification store and pusher delivery of one server.
type Push struct {
	db *storage.DB
	// accountData holds the users' push rules (and caches them decoded).
	accountData *accountdata.Store
	server      spec.ServerName
	opts        Options
	queue       chan delivery
	// ctx ends with Close: it stops the workers, the retry timers and the
	// requests in flight; done counts those goroutines.
	ctx    context.Context
	cancel context.CancelFunc
	done   sync.WaitGroup
	// retrying counts the pushes waiting for a retry (at most maxRetrying).
	retrying atomic.Int64
	// caughtUp answers Unread for a user whose own event is their newest news.
	caughtUp caughtUp
}

// New returns the push service of the server named server, which reads the
// users' push rules from accountData, its delivery workers started (Close
// stops them).
func New(db *storage.DB, accountData *accountdata.Store, server spec.ServerName, opts Options) *Push {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Retry.Attempts == 0 {
		opts.Retry = DefaultRetry()
	}
	p := &Push{db: db, accountData: accountData, server: server, opts: opts, queue: make(chan delivery, maxQueued)}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	if opts.Gateway != nil && opts.Pushers != nil {
		for range workers {
			p.done.Add(1)
			go p.work()
		}
	}
	return p
}

// Close stops delivery; pushes not yet made are dropped.
func (p *Push) Close() {
	p.cancel()
	p.done.Wait()
}

var log = logrus.WithField("component", "push")
