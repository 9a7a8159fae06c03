package mailbox

import (
	"math"
	"sync"
)

// rateLimiter is a token bucket per sender, in memory (js/relay/mailbox/rate.js).
// A relay restart refills every bucket, which costs at most one burst per sender.
type rateLimiter struct {
	mu        sync.Mutex
	perSecond float64
	burst     float64
	// buckets holds only senders that deposited lately (prune drops full ones).
	buckets map[string]bucket
}

// bucket is tokens as of at (ms since epoch).
type bucket struct {
	tokens float64
	at     int64
}

func newRateLimiter(perSecond, burst float64) *rateLimiter {
	return &rateLimiter{perSecond: perSecond, burst: burst, buckets: map[string]bucket{}}
}

func (r *rateLimiter) fill(b bucket, now int64) float64 {
	return math.Min(r.burst, b.tokens+float64(now-b.at)*r.perSecond/1000)
}

// take takes a token for peer: 0 when it got one, else ms until one is back.
func (r *rateLimiter) take(peer string, now int64) int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	b, ok := r.buckets[peer]
	if !ok {
		b = bucket{tokens: r.burst, at: now}
	}
	tokens := r.fill(b, now)
	if tokens < 1 {
		return int64(math.Ceil((1 - tokens) * 1000 / r.perSecond))
	}
	r.buckets[peer] = bucket{tokens: tokens - 1, at: now}
	return 0
}

// prune forgets full buckets: they hold nothing a fresh one would not.
func (r *rateLimiter) prune(now int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for peer, b := range r.buckets {
		if r.fill(b, now) >= r.burst {
			delete(r.buckets, peer)
		}
	}
}
