//go:build !js

package clientapi_test

import (
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"hearth/go/server"
)

// A long-poll woken by news runs SyncAfterWake before it is built: in wasm
// that lets the answer of the send that woke it leave first. Here the hook
// holds the woken sync while the send, already answered, is checked; a sync
// that answers at once never calls it.
func TestWokenSyncRunsAfterWakeBeforeItIsBuilt(t *testing.T) {
	woken := make(chan struct{}, 1)
	release := make(chan struct{})
	var calls atomic.Int32
	ts := startServerWith(t, filepath.Join(t.TempDir(), "hearth.db"), server.Config{
		SyncAfterWake: func() {
			calls.Add(1)
			woken <- struct{}{}
			<-release
		},
	})
	alice := ts.register("alice", "pw")
	roomID := ts.createRoom(alice, nil)
	since := ts.do("GET", v3+"/sync?timeout=0", alice, nil).str("next_batch")
	if n := calls.Load(); n != 0 {
		t.Fatalf("a sync answered at once called SyncAfterWake %d times", n)
	}

	polled := make(chan response, 1)
	go func() { polled <- ts.do("GET", v3+"/sync?timeout=15000&since="+url.QueryEscape(since), alice, nil) }()
	time.Sleep(200 * time.Millisecond) // the poll is waiting
	ts.send(alice, roomID, "t1", "news")
	select {
	case <-woken:
	case <-time.After(10 * time.Second):
		t.Fatal("the send did not wake the long-poll through SyncAfterWake")
	}
	select {
	case r := <-polled:
		t.Fatalf("the woken sync answered while SyncAfterWake held it: %s", r.raw)
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	r := <-polled
	if got := timelineBodies(r, roomID); strings.Join(got, ",") != "news" {
		t.Fatalf("the woken sync, once let go: %s", r.raw)
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("SyncAfterWake ran %d times for one wake", n)
	}
}
