package relay

import (
	"context"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/proto"
	"golang.org/x/time/rate"
)

// throttle is a per-peer byte rate on relayed connections: one peer flooding
// others through the relay must not slow everyone (issue 11; the JavaScript
// relay's throttle.js does the same). Each peer has a token bucket for the
// bytes the relay receives from it on relayed connections, in either role:
// on the hop stream when it dialed, on the stop stream when it was dialed.
// An empty bucket holds the relay's read, so yamux stops granting window and
// the peer's own yamux stops sending: paced, never cut.
//
// go-libp2p's relay has no hook for this; it reads from the streams it gets
// through its host (the hop stream's handler, the stop stream's NewStream),
// so the relay is given a host that hands it paced streams (throttledHost).
type throttle struct {
	rate  rate.Limit
	burst int

	mu      sync.Mutex
	buckets map[peer.ID]*bucket
}

type bucket struct {
	limiter *rate.Limiter
	streams int
}

func newThrottle(bytesPerSecond, burst int) *throttle {
	return &throttle{rate: rate.Limit(bytesPerSecond), burst: burst, buckets: map[peer.ID]*bucket{}}
}

// open counts a relayed stream of p's and returns its bucket.
func (t *throttle) open(p peer.ID) *bucket {
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.buckets[p]
	if b == nil {
		b = &bucket{limiter: rate.NewLimiter(t.rate, t.burst)}
		t.buckets[p] = b
	}
	b.streams++
	return b
}

// closed uncounts one; a peer's bucket is forgotten once it has no streams and
// is full again (forgetting it sooner would hand it a fresh burst).
func (t *throttle) closed(p peer.ID) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buckets[p].streams--
}

// prune forgets full buckets of peers without relayed streams.
func (t *throttle) prune() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for p, b := range t.buckets {
		if b.streams == 0 && b.limiter.Tokens() >= float64(t.burst) {
			delete(t.buckets, p)
		}
	}
}

// size counts the peers tracked now.
func (t *throttle) size() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.buckets)
}

// pace wraps a relayed stream so reading from it spends its peer's tokens.
func (t *throttle) pace(s network.Stream) network.Stream {
	p := s.Conn().RemotePeer()
	return &pacedStream{Stream: s, throttle: t, peer: p, bucket: t.open(p)}
}

type pacedStream struct {
	network.Stream
	throttle *throttle
	peer     peer.ID
	bucket   *bucket
	once     sync.Once
}

// Read returns what arrived once the peer's bucket has paid for it. Reads
// are at most the relay's buffer (2 KiB), far below any burst. The relay
// ends a relayed stream with CloseWrite, not Close, so the end of reading
// (EOF or a reset) is when the stream stops counting.
func (s *pacedStream) Read(buf []byte) (int, error) {
	n, err := s.Stream.Read(buf)
	if n > 0 {
		if waitErr := s.bucket.limiter.WaitN(context.Background(), min(n, s.throttle.burst)); waitErr != nil {
			err = waitErr
		}
	}
	if err != nil {
		s.release()
	}
	return n, err
}

func (s *pacedStream) release() { s.once.Do(func() { s.throttle.closed(s.peer) }) }

func (s *pacedStream) Close() error {
	s.release()
	return s.Stream.Close()
}

func (s *pacedStream) Reset() error {
	s.release()
	return s.Stream.Reset()
}

// throttledHost is the host go-libp2p's relay is given: the same host, but the
// hop streams it is handed and the stop streams it opens are paced.
type throttledHost struct {
	host.Host
	throttle *throttle
}

func (h *throttledHost) SetStreamHandler(id protocol.ID, handler network.StreamHandler) {
	if id == proto.ProtoIDv2Hop {
		inner := handler
		handler = func(s network.Stream) { inner(h.throttle.pace(s)) }
	}
	h.Host.SetStreamHandler(id, handler)
}

func (h *throttledHost) NewStream(ctx context.Context, p peer.ID, ids ...protocol.ID) (network.Stream, error) {
	s, err := h.Host.NewStream(ctx, p, ids...)
	if err != nil || len(ids) != 1 || ids[0] != proto.ProtoIDv2Stop {
		return s, err
	}
	return h.throttle.pace(s), nil
}

// pruneEvery forgets idle buckets until ctx ends.
func (t *throttle) pruneEvery(ctx context.Context, every time.Duration) {
	ticker := time.NewTicker(every)
	defer ticker.Stop()
	for {
		select {
		case <-ticker.C:
			t.prune()
		case <-ctx.Done():
			return
		}
	}
}
