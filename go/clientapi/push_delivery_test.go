//go:build !js

package clientapi_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"hearth/go/push"
	"hearth/go/server"
)

// gatewayStub is a push gateway on loopback: it records each notify body,
// answers the first failures with 503, and rejects the pushkeys listed.
type gatewayStub struct {
	mu       sync.Mutex
	bodies   []map[string]any
	failures int // answer this many requests with 503 first
	reject   map[string]bool
	got      chan struct{}
}

func (g *gatewayStub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	g.mu.Lock()
	defer g.mu.Unlock()
	if r.Method != http.MethodPost || r.URL.Path != "/_matrix/push/v1/notify" {
		http.Error(w, "wrong endpoint", http.StatusNotFound)
		return
	}
	if g.failures > 0 {
		g.failures--
		http.Error(w, "try later", http.StatusServiceUnavailable)
		return
	}
	var body map[string]any
	_ = json.Unmarshal(raw, &body)
	g.bodies = append(g.bodies, body)
	rejected := []string{}
	for _, d := range get(body, "notification", "devices").([]any) {
		if key, _ := get(d, "pushkey").(string); g.reject[key] {
			rejected = append(rejected, key)
		}
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"rejected": rejected})
	g.got <- struct{}{}
}

func (g *gatewayStub) next(t *testing.T) map[string]any {
	t.Helper()
	select {
	case <-g.got:
	case <-time.After(10 * time.Second):
		t.Fatal("the push gateway heard nothing")
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.bodies[len(g.bodies)-1]
}

// Push gateway API v1.11, "POST /_matrix/push/v1/notify", and client-server
// API v1.11, "HTTP pushers": each notifying event is posted to the pusher's
// data.url (the event's details, or with format event_id_only its ID and
// room only), with the unread count and the rule's tweaks; a failure is
// tried again with back-off; a pushkey the gateway rejects loses its pusher.
func TestPushersReceiveNotifications(t *testing.T) {
	stub := &gatewayStub{got: make(chan struct{}, 16), reject: map[string]bool{}}
	gateway := httptest.NewServer(stub)
	defer gateway.Close()
	ts := startServerWith(t, filepath.Join(t.TempDir(), "hearth.db"), server.Config{
		PushGateway: push.HTTPGateway{},
		PushRetry:   push.Retry{Attempts: 4, First: 20 * time.Millisecond, Max: 100 * time.Millisecond},
	})
	alice := ts.register("alice", "pw")
	bob := ts.register("bob", "pw")
	roomID := ts.createRoom(alice, map[string]any{"preset": "public_chat"})
	ts.expect(ts.do("POST", v3+"/join/"+roomID, bob, map[string]any{}), 200, "")
	setPusher := func(key string, data map[string]any) {
		data["url"] = gateway.URL + "/_matrix/push/v1/notify"
		ts.expect(ts.do("POST", v3+"/pushers/set", bob, map[string]any{
			"pushkey": key, "kind": "http", "app_id": "org.example.app", "app_display_name": "Example",
			"device_display_name": "Phone", "lang": "en", "data": data,
		}), 200, "")
	}
	setPusher("full-key", map[string]any{"custom": "kept"})

	// The full format, after two failures and their retries.
	stub.mu.Lock()
	stub.failures = 2
	stub.mu.Unlock()
	first := ts.sendContent(alice, roomID, "m1", map[string]any{"msgtype": "m.text", "body": "hello bob"})
	body := stub.next(t)
	n := body["notification"]
	if get(n, "event_id") != first || get(n, "room_id") != roomID || get(n, "type") != "m.room.message" ||
		get(n, "sender") != ts.whoami(alice) || get(n, "content", "body") != "hello bob" || get(n, "counts", "unread") != 1.0 ||
		get(n, "prio") != "high" {
		t.Fatalf("notification: %v", body)
	}
	dev := get(n, "devices").([]any)[0]
	if get(dev, "pushkey") != "full-key" || get(dev, "app_id") != "org.example.app" || get(dev, "data", "custom") != "kept" ||
		get(dev, "data", "url") != nil || get(dev, "tweaks", "highlight") != true || get(dev, "tweaks", "sound") != "default" {
		t.Fatalf("device: %v", dev)
	}
	stub.mu.Lock()
	if stub.failures != 0 {
		t.Fatalf("the failures were not retried: %d left", stub.failures)
	}
	stub.mu.Unlock()

	// event_id_only: the ID, the room and the counts, no content; the
	// gateway rejects this key, and its pusher goes.
	ts.expect(ts.do("POST", v3+"/pushers/set", bob, map[string]any{"pushkey": "full-key", "app_id": "org.example.app", "kind": nil}), 200, "")
	setPusher("gone-key", map[string]any{"format": "event_id_only"})
	stub.mu.Lock()
	stub.reject["gone-key"] = true
	stub.mu.Unlock()
	second := ts.send(alice, roomID, "m2", "second")
	n = stub.next(t)["notification"]
	if get(n, "event_id") != second || get(n, "room_id") != roomID || get(n, "content") != nil || get(n, "sender") != nil ||
		get(n, "counts", "unread") != 2.0 {
		t.Fatalf("event_id_only notification: %v", n)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		r := ts.do("GET", v3+"/pushers", bob, nil)
		if ps, _ := r.body["pushers"].([]any); len(ps) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the rejected pusher is still there: %s", r.raw)
		}
		time.Sleep(20 * time.Millisecond)
	}

	// Events that do not notify (bob's own, a notice) are not pushed; a
	// gateway that keeps failing is given up after the attempts.
	setPusher("quiet-key", map[string]any{})
	ts.send(bob, roomID, "b1", "mine")
	ts.sendContent(alice, roomID, "m3", map[string]any{"msgtype": "m.notice", "body": "notice"})
	stub.mu.Lock()
	stub.failures = 4
	stub.mu.Unlock()
	ts.send(alice, roomID, "m4", "never arrives")
	select {
	case <-stub.got:
		t.Fatal("pushed an event that does not notify, or kept retrying past the attempts")
	case <-time.After(700 * time.Millisecond):
	}
	stub.mu.Lock()
	defer stub.mu.Unlock()
	if stub.failures != 0 {
		t.Fatalf("not every attempt was made: %d failures left", stub.failures)
	}
}
