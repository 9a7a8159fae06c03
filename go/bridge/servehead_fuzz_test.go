package bridge

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"

	"hearth/go/httpmem"
)

// FuzzServeHeads feeds arbitrary request heads and bodies through the serve
// path's decoding, an echoing handler and the response head's encoding: a
// bad head must fail cleanly, and what is accepted must cross intact (the
// body byte for byte, every UTF-8 header value, the status and the peer).
// Header values that are not UTF-8 cannot cross a JSON head unchanged; fetch
// refuses them in any case.
func FuzzServeHeads(f *testing.F) {
	f.Add(`{"method":"PUT","url":"http://example.test/_matrix/federation/v1/send/1?x=y","headers":[["content-type","application/json"],["host","a.test:8080"]],"peer":"12D3KooWpeer"}`, []byte(`{"pdus":[]}`))
	f.Add(`{"method":"GET","url":"/_matrix/client/versions","headers":[]}`, []byte(nil))
	f.Add(`{"method":"","url":"","headers":null}`, []byte{0, 255})
	f.Fuzz(func(t *testing.T, headJSON string, body []byte) {
		req, err := decodeRequest(context.Background(), headJSON, body)
		if err != nil {
			return
		}
		var head requestHead
		if err := json.Unmarshal([]byte(headJSON), &head); err != nil {
			t.Fatalf("decodeRequest accepted a head json cannot decode: %v", err)
		}
		if got := PeerFromContext(req.Context()); got != head.Peer {
			t.Fatalf("peer %q, want %q", got, head.Peer)
		}
		status, header, respBody := httpmem.Serve(http.HandlerFunc(echo), req)
		encoded, err := encodeResponseHead(status, header)
		if err != nil {
			t.Fatalf("encode response head: %v", err)
		}
		var resp responseHead
		if err := json.Unmarshal(encoded, &resp); err != nil {
			t.Fatalf("response head is not JSON: %v", err)
		}
		if resp.Status != http.StatusTeapot || !bytes.Equal(respBody, body) {
			t.Fatalf("status %d and %d body bytes back, want %d and %d", resp.Status, len(respBody), http.StatusTeapot, len(body))
		}
		crossed := map[[2]string]int{}
		for _, kv := range resp.Headers {
			crossed[kv]++
		}
		for name, values := range req.Header {
			for _, v := range values {
				kv := [2]string{strings.ToLower(name), v}
				if !utf8.ValidString(v) {
					continue
				}
				if crossed[kv] == 0 {
					t.Fatalf("header %q: %q did not cross", name, v)
				}
				crossed[kv]--
			}
		}
	})
}

// echo answers 418 with the request's headers and body.
func echo(w http.ResponseWriter, r *http.Request) {
	for name, values := range r.Header {
		w.Header()[name] = values
	}
	body, _ := io.ReadAll(r.Body)
	w.WriteHeader(http.StatusTeapot)
	w.Write(body)
}
