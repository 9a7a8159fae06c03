//go:build js

package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"syscall/js"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"hearth/go/errcode"
)

// Issue 11, defect 13: a panicking handler used to end the program (and the
// service worker's server with it). Now the one request fails and the next
// is served.
func TestServeSurvivesPanickingHandler(t *testing.T) {
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/boom" {
			var m map[string]int
			m["x"]++
		}
		w.WriteHeader(http.StatusNoContent)
	})
	// Bare, the panic rejects its promise only.
	Serve(handler)
	req := js.ValueOf(map[string]any{"head": "GET\n/boom\n", "body": js.Null()})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := await(ctx, js.Global().Call(globalServe, req)); err == nil || !strings.Contains(err.Error(), "panic") {
		t.Fatalf("panicking handler: %v", err)
	}
	if head, _ := callServe(t, testHead{method: "GET", url: "/fine"}, nil); head.status != http.StatusNoContent {
		t.Fatalf("after the panic: %d", head.status)
	}

	// As the server wires it (errcode.Recover), the panic is a 500 M_UNKNOWN.
	Serve(errcode.Recover(handler, logrus.WithField("test", t.Name())))
	head, body := callServe(t, testHead{method: "GET", url: "/boom"}, nil)
	var e errcode.Error
	if err := json.Unmarshal(body, &e); err != nil || head.status != 500 || e.ErrCode != "M_UNKNOWN" {
		t.Fatalf("got %d %s", head.status, body)
	}
}

// Issue 11, defect 13: the request's AbortSignal reaches the handler's context.
func TestServeCancelsContextOnAbort(t *testing.T) {
	cancelled := make(chan error, 1)
	Serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
			cancelled <- r.Context().Err()
		case <-time.After(5 * time.Second):
			cancelled <- errors.New("context not cancelled within 5 s")
		}
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	controller := js.Global().Get("AbortController").New()
	req := js.ValueOf(map[string]any{"head": "GET\n/_matrix/client/v3/sync\n", "body": js.Null(), "signal": controller.Get("signal")})
	promise := js.Global().Call(globalServe, req)
	go func() {
		time.Sleep(50 * time.Millisecond)
		controller.Call("abort")
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := await(ctx, promise); err != nil {
		t.Fatal(err)
	}
	if err := <-cancelled; !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}

	// A signal aborted before the call cancels at once.
	aborted := js.Global().Get("AbortSignal").Call("abort")
	req = js.ValueOf(map[string]any{"head": "GET\n/x\n", "body": js.Null(), "signal": aborted})
	if _, err := await(ctx, js.Global().Call(globalServe, req)); err != nil {
		t.Fatal(err)
	}
	if err := <-cancelled; !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
}

// Issue 11, defect 13: a storage or p2p object that throws (the contract
// says they do not) fails the call instead of panicking through Go.
func TestThrowingJSCallsBecomeErrors(t *testing.T) {
	throwing := js.Global().Get("Function").New(`
const fail = () => { const e = new Error('disk on fire'); e.name = 'StoragePersistError'; throw e }
return { version: 2, prepare: fail, paramsBuffer: fail, resultBuffer: fail, run: fail, query: fail, exec: fail, begin: fail, rollback: fail, commit: fail, finalize: fail }`).Invoke()
	s := &Storage{v: throwing}
	var jsErr *Error
	if _, err := s.Prepare("SELECT 1"); !errors.As(err, &jsErr) || jsErr.Name != "StoragePersistError" {
		t.Fatalf("prepare: %v", err)
	}
	if _, err := s.Query("SELECT 1", nil); err == nil {
		t.Fatal("query: no error")
	}
	if _, err := s.Run(1, []Param{{Value: int64(1)}}); err == nil {
		t.Fatal("run with params: no error")
	}
	if err := s.Begin(); err == nil {
		t.Fatal("begin: no error")
	}
	if err := s.Commit(context.Background()); err == nil {
		t.Fatal("commit: no error")
	}
	s.Finalize(1) // logged, not raised

	installFakeP2P(t, `return { version: 6, peers: () => { throw new Error('no') }, roundTrip: () => { throw new TypeError('bad') } }`)
	req, _ := http.NewRequest("GET", "matrix://12D3KooWA4Xop1JaT3MHxwYMkCepYsv4iPVopMXwCz5iHYdBfeSB/_matrix/key/v2/server", nil)
	if _, err := (P2PTransport{}).RoundTrip(req); !errors.As(err, &jsErr) || jsErr.Name != "TypeError" {
		t.Fatalf("round trip: %v", err)
	}
	if peers := KnownPeers(); peers != nil {
		t.Fatalf("peers: %v", peers)
	}
}
