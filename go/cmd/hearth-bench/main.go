//go:build !js

// Command hearth-bench measures the native server's client API the way the
// browser benchmark (bench/browser.js) measures the wasm one, so `npm run
// bench` can put the two side by side and report the wasm overhead as a ratio.
//
// It starts a real server (SQLite in a temporary directory, loopback HTTP),
// registers a user, creates a room and then, for each message: starts a /sync
// long-poll, waits a moment so the poll is waiting in the server, sends one
// message and times send → the long-poll answering with it.
//
// Output: one JSON object per line on stdout, each a benchmark row
// {name, unit, p50, p99, samples}; logs go to stderr. It never fails on a number.
//
//	go run ./go/cmd/hearth-bench -messages 500 -timeout 60s
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/crypto/bcrypt"

	"hearth/go/server"
	"hearth/go/storage"
)

// pollHeadStart is how long a /sync long-poll gets to arrive at the server
// before the message is sent; bench/browser.js waits the same.
const pollHeadStart = 5 * time.Millisecond

// row is one benchmark row as bench/run.js reads it.
type row struct {
	Name    string  `json:"name"`
	Unit    string  `json:"unit"`
	P50     float64 `json:"p50,omitempty"`
	P99     float64 `json:"p99,omitempty"`
	Value   float64 `json:"value,omitempty"`
	Samples int     `json:"samples"`
	Note    string  `json:"note,omitempty"`
}

func main() {
	messages := flag.Int("messages", 500, "messages to send (each one sample)")
	senders := flag.Int("senders", 8, "users sending at once for the throughput row")
	timeout := flag.Duration("timeout", 60*time.Second, "stop sending after this long and report what was measured")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file (go tool pprof)")
	sendersProfile := flag.String("senders-cpuprofile", "", "write a CPU profile of the senders' run only to this file")
	flag.Parse()
	logrus.SetOutput(os.Stderr)
	logrus.SetLevel(logrus.WarnLevel)
	if err := bench(*messages, *senders, *timeout, *cpuProfile, *sendersProfile); err != nil {
		fmt.Fprintln(os.Stderr, "hearth-bench:", err)
		os.Exit(1)
	}
}

func bench(messages, senders int, timeout time.Duration, cpuProfile, sendersProfile string) error {
	if cpuProfile != "" {
		f, err := os.Create(cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("start CPU profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	rows, err := run(ctx, messages, senders, sendersProfile)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(os.Stdout)
	for _, r := range rows {
		_ = enc.Encode(r)
	}
	return nil
}

func run(ctx context.Context, messages, senders int, sendersProfile string) ([]row, error) {
	dir, err := os.MkdirTemp("", "hearth-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	db, err := storage.Open(ctx, filepath.Join(dir, "hearth.db"))
	if err != nil {
		return nil, err
	}
	defer db.Close()
	// The password hash cost is not what is measured here.
	srv, err := server.New(ctx, server.Config{DB: db, BcryptCost: bcrypt.MinCost})
	if err != nil {
		return nil, err
	}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	c := &client{base: hs.URL, http: hs.Client()}

	if err := c.register(ctx, "bench", "bench password"); err != nil {
		return nil, err
	}
	var created struct {
		RoomID string `json:"room_id"`
	}
	if err := c.do(ctx, "POST", "/_matrix/client/v3/createRoom", map[string]any{"name": "bench", "preset": "public_chat"}, &created); err != nil {
		return nil, err
	}
	var initial struct {
		NextBatch string `json:"next_batch"`
	}
	if err := c.do(ctx, "GET", "/_matrix/client/v3/sync?timeout=0", nil, &initial); err != nil {
		return nil, err
	}

	since := initial.NextBatch
	var sendMs, arrivalMs []float64
	cpuBefore := cpuTime()
	for i := 0; i < messages && ctx.Err() == nil; i++ {
		polled := make(chan syncResult, 1)
		go func(since string) { polled <- c.sync(ctx, since) }(since)
		time.Sleep(pollHeadStart)

		began := time.Now()
		var sent struct {
			EventID string `json:"event_id"`
		}
		path := fmt.Sprintf("/_matrix/client/v3/rooms/%s/send/m.room.message/bench%d", url.PathEscape(created.RoomID), i)
		if err := c.do(ctx, "PUT", path, map[string]any{"msgtype": "m.text", "body": fmt.Sprintf("message %d", i)}, &sent); err != nil {
			return nil, err
		}
		sendMs = append(sendMs, ms(time.Since(began)))
		for {
			r := <-polled
			if r.err != nil {
				return nil, r.err
			}
			since = r.nextBatch
			if strings.Contains(r.body, sent.EventID) {
				break
			}
			// An answer without our event (nothing else writes, so rare): poll again.
			go func(since string) { polled <- c.sync(ctx, since) }(since)
		}
		arrivalMs = append(arrivalMs, ms(time.Since(began)))
	}
	cpuPerSend := ms(cpuTime()-cpuBefore) / float64(max(1, len(arrivalMs)))
	// The same client's simplest request: the cost of the HTTP hop alone.
	var versionsMs []float64
	for i := 0; i < messages && ctx.Err() == nil; i++ {
		began := time.Now()
		if err := c.do(ctx, "GET", "/_matrix/client/versions", nil, nil); err != nil {
			return nil, err
		}
		versionsMs = append(versionsMs, ms(time.Since(began)))
	}
	if len(arrivalMs) == 0 || len(versionsMs) == 0 {
		return nil, fmt.Errorf("no message was measured before the timeout")
	}
	rows := []row{
		latency("clientapi.native.send-sync", arrivalMs, fmt.Sprintf(
			"send → arrival in a waiting /sync long-poll, loopback HTTP, SQLite on disk; CPU %.2f ms per message (server and client: the send, the /sync answer, both HTTP hops)", cpuPerSend)),
		latency("clientapi.native.send", sendMs, "PUT /send answered"),
		latency("clientapi.native.versions", versionsMs, "GET /_matrix/client/versions answered"),
	}
	if senders > 0 && ctx.Err() == nil {
		perSecond, sent, cpuPerMessage, err := throughput(ctx, hs, created.RoomID, senders, messages, sendersProfile)
		if err != nil {
			return nil, err
		}
		rows = append(rows, row{Name: fmt.Sprintf("clientapi.native.senders-%d", senders), Unit: "msg/s", Value: perSecond, Samples: sent,
			Note: fmt.Sprintf("%d users joined to one room each send back to back, loopback HTTP, SQLite on disk; CPU %.2f ms per message (server and client)", senders, cpuPerMessage)})
	}
	return rows, nil
}

// throughput registers senders users, joins them to the room and has each
// send messages back to back, all at once; it returns messages per second
// over the whole run, how many were sent and the CPU time per message (ms).
// With cpuProfile not "", the sending is profiled into that file.
func throughput(ctx context.Context, hs *httptest.Server, roomID string, senders, messages int, cpuProfile string) (float64, int, float64, error) {
	clients := make([]*client, senders)
	for i := range clients {
		clients[i] = &client{base: hs.URL, http: hs.Client()}
		if err := clients[i].register(ctx, fmt.Sprintf("sender%d", i), "bench password"); err != nil {
			return 0, 0, 0, err
		}
		if err := clients[i].do(ctx, "POST", "/_matrix/client/v3/join/"+url.PathEscape(roomID), map[string]any{}, nil); err != nil {
			return 0, 0, 0, err
		}
	}
	perSender := max(1, messages/senders)
	errs := make(chan error, senders)
	if cpuProfile != "" {
		f, err := os.Create(cpuProfile)
		if err != nil {
			return 0, 0, 0, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return 0, 0, 0, fmt.Errorf("start CPU profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	began, cpuBefore := time.Now(), cpuTime()
	for i, c := range clients {
		go func() {
			for j := range perSender {
				path := fmt.Sprintf("/_matrix/client/v3/rooms/%s/send/m.room.message/s%d", url.PathEscape(roomID), j)
				if err := c.do(ctx, "PUT", path, map[string]any{"msgtype": "m.text", "body": fmt.Sprintf("sender %d message %d", i, j)}, nil); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range clients {
		if err := <-errs; err != nil {
			return 0, 0, 0, err
		}
	}
	sent := perSender * senders
	cpuPerMessage := float64(int(ms(cpuTime()-cpuBefore)/float64(sent)*100)) / 100
	return float64(int(float64(sent)/time.Since(began).Seconds()*10)) / 10, sent, cpuPerMessage, nil
}

func latency(name string, samples []float64, note string) row {
	slices.Sort(samples)
	pick := func(p float64) float64 {
		i := min(len(samples)-1, int(float64(len(samples))*p))
		return float64(int(samples[i]*1000)) / 1000
	}
	return row{Name: name, Unit: "ms", P50: pick(0.5), P99: pick(0.99), Samples: len(samples), Note: note}
}

// cpuTime is the CPU time this process has used, user and system: on a
// shared machine a steadier figure than latency.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func ms(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }

// client is the smallest Matrix client the benchmark needs.
type client struct {
	base  string
	http  *http.Client
	token string
}

func (c *client) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		j, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	res, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return err
	}
	if res.StatusCode != http.StatusOK {
		return &httpError{method: method, path: path, status: res.StatusCode, body: raw}
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(raw, out)
}

type httpError struct {
	method, path string
	status       int
	body         []byte
}

func (e *httpError) Error() string {
	return fmt.Sprintf("%s %s: HTTP %d %s", e.method, e.path, e.status, e.body)
}

// register goes through the m.login.dummy user-interactive flow.
func (c *client) register(ctx context.Context, user, password string) error {
	var first struct {
		Session string `json:"session"`
	}
	err := c.do(ctx, "POST", "/_matrix/client/v3/register", map[string]any{"username": user, "password": password}, nil)
	var he *httpError
	if !errors.As(err, &he) || he.status != http.StatusUnauthorized {
		return fmt.Errorf("register: want 401 with a session, got %v", err)
	}
	if err := json.Unmarshal(he.body, &first); err != nil {
		return fmt.Errorf("register: %w", err)
	}
	var done struct {
		AccessToken string `json:"access_token"`
	}
	err = c.do(ctx, "POST", "/_matrix/client/v3/register", map[string]any{
		"username": user, "password": password,
		"auth": map[string]any{"type": "m.login.dummy", "session": first.Session},
	}, &done)
	if err != nil {
		return fmt.Errorf("register: %w", err)
	}
	c.token = done.AccessToken
	return nil
}

type syncResult struct {
	body      string
	nextBatch string
	err       error
}

func (c *client) sync(ctx context.Context, since string) syncResult {
	var raw json.RawMessage
	err := c.do(ctx, "GET", "/_matrix/client/v3/sync?timeout=30000&since="+url.QueryEscape(since), nil, &raw)
	if err != nil {
		return syncResult{err: err}
	}
	var head struct {
		NextBatch string `json:"next_batch"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return syncResult{err: err}
	}
	return syncResult{body: string(raw), nextBatch: head.NextBatch}
}
