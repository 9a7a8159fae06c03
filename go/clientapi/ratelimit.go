package clientapi

import (
	"net"
	"net/http"
	"sync"
	"time"

	"hearth/go/errcode"
)

// RateLimit is a token bucket: Burst requests at once, then one per Every.
type RateLimit struct {
	Burst int
	Every time.Duration
}

// DefaultRegistrationLimit lets a household sign up at once and a script
// register a handful of bots, while a flood (registration answered about 11/s
// before, issue 11) makes ten accounts a minute at most.
var DefaultRegistrationLimit = RateLimit{Burst: 10, Every: 6 * time.Second}

// maxRateKeys bounds the buckets one limiter keeps, so many addresses cannot
// grow it without end: past it, the buckets that have refilled are dropped.
const maxRateKeys = 10_000

// limiter keeps one bucket per client address. Where the platform gives no
// address (the browser's service worker, the headless peer's front) every
// request shares the "" bucket: the limit is then the server's.
type limiter struct {
	limit RateLimit
	now   func() time.Time

	mu      sync.Mutex
	buckets map[string]bucket // guarded by mu
}

type bucket struct {
	tokens float64
	at     time.Time // when tokens was last brought up to date
}

func newLimiter(limit RateLimit, now func() time.Time) *limiter {
	return &limiter{limit: limit, now: now, buckets: map[string]bucket{}}
}

// take spends one token of key's bucket; when there is none it answers how
// long until there is.
func (l *limiter) take(key string) (retryAfter time.Duration, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b, found := l.buckets[key]
	if !found {
		if len(l.buckets) >= maxRateKeys {
			l.dropFullLocked(now)
		}
		b = bucket{tokens: float64(l.limit.Burst), at: now}
	}
	b.tokens = min(float64(l.limit.Burst), b.tokens+float64(now.Sub(b.at))/float64(l.limit.Every))
	b.at = now
	if b.tokens < 1 {
		l.buckets[key] = b
		return time.Duration((1 - b.tokens) * float64(l.limit.Every)), false
	}
	b.tokens--
	l.buckets[key] = b
	return 0, true
}

// dropFullLocked forgets buckets that have refilled: they hold nothing a
// new bucket would not.
func (l *limiter) dropFullLocked(now time.Time) {
	for k, b := range l.buckets {
		if b.tokens+float64(now.Sub(b.at))/float64(l.limit.Every) >= float64(l.limit.Burst) {
			delete(l.buckets, k)
		}
	}
}

// check answers M_LIMIT_EXCEEDED when r's client is over the limit.
func (l *limiter) check(r *http.Request, what string) error {
	if retry, ok := l.take(clientAddress(r)); !ok {
		return errcode.LimitExceeded("too many "+what+"; try again later", retry)
	}
	return nil
}

// clientAddress is the IP a request came from, "" where there is none.
func clientAddress(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
