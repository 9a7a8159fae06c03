//go:build !js

// Federation benchmarks, in-process transport (the code paths of libp2p
// minus the network). Run:
//
//	go test -run '^$' -bench . ./go/federation/
//
// Besides Go's benchmark lines, each benchmark prints one JSON row per run
// to stdout, starting with {"bench":
//
//	{"bench":"federation.latency","servers":2,"messages":N,"p50_ms":…,"p99_ms":…,"max_ms":…}
//	{"bench":"federation.catchup","servers":2,"events":1000,"ms":…,"events_per_s":…}
//
// latency: a message sent on A, until it shows in a long-polling /sync of a
// user on each other server (every server's arrival counts as one sample).
// catchup: a server offline while 1,000 messages are sent comes back, until
// the last one shows in its user's /sync.

package federation_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"hearth/go/federation"
)

// benchRow prints one JSON result line.
func benchRow(row map[string]any) {
	raw, _ := json.Marshal(row)
	fmt.Println(string(raw))
}

// syncBatch long-polls /sync after since and returns the next token and the
// IDs of the room's new timeline events. It reports failures as errors, so
// that it may run off the benchmark's goroutine.
func (u *user) syncBatch(roomID, since string, timeout time.Duration) (string, []string, error) {
	path := "/_matrix/client/v3/sync?timeout=" + fmt.Sprint(timeout.Milliseconds())
	if since != "" {
		path += "&since=" + url.QueryEscape(since)
	}
	r := u.do("GET", path, nil)
	if r.status != 200 {
		return "", nil, fmt.Errorf("sync of %s: %d %s", u.id, r.status, r.raw)
	}
	var body struct {
		NextBatch string `json:"next_batch"`
		Rooms     struct {
			Join map[string]struct {
				Timeline struct {
					Events []struct {
						EventID string `json:"event_id"`
					} `json:"events"`
				} `json:"timeline"`
			} `json:"join"`
		} `json:"rooms"`
	}
	if err := json.Unmarshal(r.raw, &body); err != nil {
		return "", nil, err
	}
	var ids []string
	for _, ev := range body.Rooms.Join[roomID].Timeline.Events {
		ids = append(ids, ev.EventID)
	}
	return body.NextBatch, ids, nil
}

// waitFor long-polls /sync from since until eventID shows, and returns when
// it did and the token after it.
func (u *user) waitFor(roomID, since, eventID string, deadline time.Time) (time.Time, string, error) {
	for time.Now().Before(deadline) {
		next, ids, err := u.syncBatch(roomID, since, 5*time.Second)
		if err != nil {
			return time.Time{}, since, err
		}
		since = next
		if slices.Contains(ids, eventID) {
			return time.Now(), since, nil
		}
	}
	return time.Time{}, since, fmt.Errorf("%s never saw %s", u.id, eventID)
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(float64(len(sorted))*p))]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func BenchmarkMessageLatency(b *testing.B) {
	for _, servers := range []int{2, 10} {
		b.Run(fmt.Sprintf("servers=%d", servers), func(b *testing.B) { benchLatency(b, servers) })
	}
}

func benchLatency(b *testing.B, servers int) {
	n := newNetwork(b)
	nodes := make([]*node, servers)
	for i := range nodes {
		nodes[i] = n.node(federation.QueueOptions{})
	}
	alice := nodes[0].register("alice")
	roomID := alice.createRoom(map[string]any{"preset": "public_chat"})
	readers := make([]*user, 0, servers-1)
	for i, x := range nodes[1:] {
		u := x.register(fmt.Sprintf("reader%d", i))
		u.join(roomID, nodes[0])
		readers = append(readers, u)
	}
	// Every reader's /sync position, past the joins and their backfill.
	tokens := make([]string, len(readers))
	warm := alice.say(roomID, "warm up")
	for i, u := range readers {
		var err error
		if _, tokens[i], err = u.waitFor(roomID, "", warm, time.Now().Add(30*time.Second)); err != nil {
			b.Fatal(err)
		}
	}

	var samples []time.Duration
	i := 0
	for b.Loop() {
		i++
		var wg sync.WaitGroup
		arrived := make([]time.Time, len(readers))
		errs := make([]error, len(readers))
		eventID := make(chan string)
		for j, u := range readers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				id := <-eventID
				arrived[j], tokens[j], errs[j] = u.waitFor(roomID, tokens[j], id, time.Now().Add(30*time.Second))
			}()
		}
		sent := time.Now()
		id := alice.say(roomID, fmt.Sprintf("message %d", i))
		for range readers {
			eventID <- id
		}
		wg.Wait()
		for j := range readers {
			if errs[j] != nil {
				b.Fatal(errs[j])
			}
			samples = append(samples, arrived[j].Sub(sent))
		}
	}
	slices.Sort(samples)
	p50, p99 := percentile(samples, 0.50), percentile(samples, 0.99)
	b.ReportMetric(ms(p50), "p50-ms")
	b.ReportMetric(ms(p99), "p99-ms")
	benchRow(map[string]any{"bench": "federation.latency", "transport": "in-process", "servers": servers, "messages": i,
		"p50_ms": ms(p50), "p99_ms": ms(p99), "max_ms": ms(samples[len(samples)-1])})
}

// catchUpEvents is how many events the returning server missed.
const catchUpEvents = 1000

func BenchmarkCatchUp(b *testing.B) {
	for range b.N {
		benchCatchUp(b)
	}
}

func benchCatchUp(b *testing.B) {
	b.StopTimer()
	n := newNetwork(b)
	a, c := n.node(federation.QueueOptions{}), n.node(federation.QueueOptions{})
	nodes := []*node{a, c}
	alice, carol := a.register("alice"), c.register("carol")
	roomID := alice.createRoom(map[string]any{"preset": "public_chat"})
	carol.join(roomID, a)
	first := alice.say(roomID, "before")
	_, token, err := carol.waitFor(roomID, "", first, time.Now().Add(30*time.Second))
	if err != nil {
		b.Fatal(err)
	}

	n.setOnline(c, false, nodes)
	var last string
	for i := range catchUpEvents {
		last = alice.say(roomID, fmt.Sprintf("missed %d", i))
	}
	b.StartTimer()
	start := time.Now()
	n.setOnline(c, true, nodes)
	done, _, err := carol.waitFor(roomID, token, last, time.Now().Add(5*time.Minute))
	if err != nil {
		b.Fatal(err)
	}
	took := done.Sub(start)
	b.StopTimer()
	b.ReportMetric(ms(took), "catchup-ms")
	benchRow(map[string]any{"bench": "federation.catchup", "transport": "in-process", "servers": 2, "events": catchUpEvents,
		"ms": ms(took), "events_per_s": float64(catchUpEvents) / took.Seconds()})
}
