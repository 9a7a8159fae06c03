package bridge

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"hearth/go/httpmem"
)

// FuzzServeHeads feeds arbitrary request heads and bodies through the serve
// path's decoding, an echoing handler and the response head's encoding: a
// bad head must fail cleanly, and what is accepted must cross intact (the
// body byte for byte, the status, the peer, and every header value; one
// holding a line break crosses with a space for it).
func FuzzServeHeads(f *testing.F) {
	f.Add("PUT\nhttp://example.test/_matrix/federation/v1/send/1?x=y\n12D3KooWpeer\ncontent-type\napplication/json\nhost\na.test:8080", []byte(`{"pdus":[]}`))
	f.Add("GET\n/_matrix/client/versions\n", []byte(nil))
	f.Add("\n\n\n\n", []byte{0, 255})
	f.Add("GET\n/x\n\nx-a\nline\rbreak\x00", []byte(nil))
	f.Fuzz(func(t *testing.T, head string, body []byte) {
		req, err := decodeRequest(context.Background(), head, body)
		if err != nil {
			return
		}
		lines := strings.Split(head, "\n")
		if got := PeerFromContext(req.Context()); got != lines[2] {
			t.Fatalf("peer %q, want %q", got, lines[2])
		}
		status, header, respBody := httpmem.Serve(http.HandlerFunc(echo), req)
		resp := parseAnswerHead(t, encodeResponseHead(status, header))
		if resp.status != http.StatusTeapot || !bytes.Equal(respBody, body) {
			t.Fatalf("status %d and %d body bytes back, want %d and %d", resp.status, len(respBody), http.StatusTeapot, len(body))
		}
		crossed := map[[2]string]int{}
		for _, kv := range resp.headers {
			crossed[kv]++
		}
		spaced := strings.NewReplacer("\r", " ", "\x00", " ")
		for name, values := range req.Header {
			for _, v := range values {
				kv := [2]string{spaced.Replace(strings.ToLower(name)), spaced.Replace(v)}
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
