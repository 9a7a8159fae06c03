//go:build js

package bridge

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"syscall/js"
	"testing"
	"time"
)

// callServe calls the installed hearthServe global as JS would.
func callServe(t *testing.T, head requestHead, body []byte) (responseHead, []byte) {
	t.Helper()
	h, err := json.Marshal(head)
	if err != nil {
		t.Fatal(err)
	}
	req := js.ValueOf(map[string]any{"head": string(h), "body": js.Null()})
	if body != nil {
		req.Set("body", bytesToJS(body))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := await(ctx, js.Global().Call(globalServe, req))
	if err != nil {
		t.Fatalf("hearthServe: %v", err)
	}
	var rh responseHead
	if err := json.Unmarshal([]byte(res.Get("head").String()), &rh); err != nil {
		t.Fatal(err)
	}
	return rh, bytesFromJS(res.Get("body"))
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
	head, body := callServe(t, requestHead{
		Method: "PUT", URL: "http://example.test:8080/_matrix/x?y=1",
		Headers: [][2]string{{"x-test", "héllo"}}, Peer: "12D3KooWpeer",
	}, all)
	if head.Status != http.StatusTeapot {
		t.Fatalf("status %d", head.Status)
	}
	if !bytes.Equal(body, all) {
		t.Fatalf("body changed crossing the bridge: %d bytes back, want %d", len(body), len(all))
	}
	want := map[string]string{"x-method": "PUT", "x-path": "/_matrix/x?y=1", "x-host": "example.test:8080", "x-peer": "12D3KooWpeer", "x-echo": "héllo"}
	got := map[string]string{}
	for _, kv := range head.Headers {
		got[kv[0]] = kv[1]
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("header %s = %q, want %q", k, got[k], v)
		}
	}
	// No body at all is an empty body, not an error.
	head, body = callServe(t, requestHead{Method: "GET", URL: "/_matrix/empty"}, nil)
	if head.Status != http.StatusTeapot || len(body) != 0 {
		t.Fatalf("empty request: %d, %d bytes", head.Status, len(body))
	}
}

// A malformed head rejects the promise instead of crashing the server.
func TestServeRejectsBadHead(t *testing.T) {
	Serve(http.NotFoundHandler())
	req := js.ValueOf(map[string]any{"head": "{not json", "body": js.Null()})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := await(ctx, js.Global().Call(globalServe, req)); err == nil {
		t.Fatal("a malformed head was served")
	}
}
