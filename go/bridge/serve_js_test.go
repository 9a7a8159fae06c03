//go:build js

package bridge

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"syscall/js"
	"testing"
	"time"
)

// callServe calls the installed hearthServe global as JS would.
func callServe(t *testing.T, head testHead, body []byte) (testAnswer, []byte) {
	t.Helper()
	req := js.ValueOf(map[string]any{"head": head.String(), "body": js.Null()})
	if body != nil {
		req.Set("body", bytesToJS(body))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := await(ctx, js.Global().Call(globalServe, req))
	if err != nil {
		t.Fatalf("hearthServe: %v", err)
	}
	return parseAnswerHead(t, res.Get("head").String()), bytesFromJS(res.Get("body"))
}

// Bodies cross both ways as bytes: every byte value arrives intact, and the
// head carries method, URL, headers, status and the peer.
func TestServeIsBinarySafe(t *testing.T) {
	all := make([]byte, 256*64)
	for i := range all {
		all[i] = byte(i)
	}
	Serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Method", r.Method)
		w.Header().Set("X-Path", r.URL.RequestURI())
		w.Header().Set("X-Host", r.Host)
		w.Header().Set("X-Peer", PeerFromContext(r.Context()))
		w.Header().Set("X-Echo", r.Header.Get("X-Test"))
		w.WriteHeader(http.StatusTeapot)
		w.Write(got)
	}))
	head, body := callServe(t, testHead{
		method: "PUT", url: "http://example.test:8080/_matrix/x?y=1",
		headers: [][2]string{{"x-test", "héllo"}}, peer: "12D3KooWpeer",
	}, all)
	if head.status != http.StatusTeapot {
		t.Fatalf("status %d", head.status)
	}
	if !bytes.Equal(body, all) {
		t.Fatalf("body changed crossing the bridge: %d bytes back, want %d", len(body), len(all))
	}
	want := map[string]string{"x-method": "PUT", "x-path": "/_matrix/x?y=1", "x-host": "example.test:8080", "x-peer": "12D3KooWpeer", "x-echo": "héllo"}
	got := map[string]string{}
	for _, kv := range head.headers {
		got[kv[0]] = kv[1]
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("header %s = %q, want %q", k, got[k], v)
		}
	}
	// No body at all is an empty body, not an error.
	head, body = callServe(t, testHead{method: "GET", url: "/_matrix/empty"}, nil)
	if head.status != http.StatusTeapot || len(body) != 0 {
		t.Fatalf("empty request: %d, %d bytes", head.status, len(body))
	}
}

// A malformed head rejects the promise instead of crashing the server.
func TestServeRejectsBadHead(t *testing.T) {
	Serve(http.NotFoundHandler())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, head := range []string{`{"method":"GET","url":"/x","headers":[]}`, "GET\n/x", "GET\n/x\n\nx-only-a-name", "NOT A METHOD\n/x\n"} {
		req := js.ValueOf(map[string]any{"head": head, "body": js.Null()})
		if _, err := await(ctx, js.Global().Call(globalServe, req)); err == nil {
			t.Fatalf("the malformed head %q was served", head)
		}
	}
}
