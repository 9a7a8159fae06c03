package bridge

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// The serve contract's heads (globals_js.go) are lines, not JSON: decoding a
// JSON head with encoding/json cost a request 40–70 µs in wasm, 5 % of Go's
// work for a send and the /sync it wakes. They are decoded and encoded here
// with no syscall/js, so native tests and the fuzzer reach them: every head
// comes from a page or another peer.

// headLineBreaks are what no line of a head may hold: JS refuses a request
// head with one, and encodeResponseHead replaces them in what handlers set,
// as net/http's server does.
const headLineBreaks = "\r\n\x00"

// peerKey is the request context key under which a request carries the
// libp2p peer ID it arrived from ("" for local requests).
type peerKey struct{}

// PeerFromContext returns the libp2p peer a request came from, if any.
func PeerFromContext(ctx context.Context) string {
	p, _ := ctx.Value(peerKey{}).(string)
	return p
}

// decodeRequest builds the request a head and its body describe. The head's
// lines are the method, the URL, the peer it came from ("" for a local
// request), then each header's name and value. The Host header, when
// present, becomes req.Host, as it would off the wire.
func decodeRequest(ctx context.Context, head string, body []byte) (*http.Request, error) {
	lines := strings.Split(head, "\n")
	if len(lines) < 3 || len(lines)%2 == 0 {
		return nil, fmt.Errorf("decode request head: %d lines, want the method, URL and peer, then a name and a value for each header", len(lines))
	}
	method, url, peer := lines[0], lines[1], lines[2]
	if peer != "" {
		ctx = context.WithValue(ctx, peerKey{}, peer)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("build request for %q: %w", url, err)
	}
	req.RequestURI = req.URL.RequestURI()
	for i := 3; i < len(lines); i += 2 {
		req.Header.Add(lines[i], lines[i+1])
	}
	if host := req.Header.Get("Host"); host != "" {
		req.Host = host
	}
	return req, nil
}

// encodeResponseHead is the head of a response: its status, then each
// header value's name (in lower case, as fetch's Headers gives it) and value.
func encodeResponseHead(status int, header http.Header) string {
	var b strings.Builder
	b.WriteString(strconv.Itoa(status))
	for name, values := range header {
		name = strings.ToLower(name)
		for _, v := range values {
			writeHeadLine(&b, name)
			writeHeadLine(&b, v)
		}
	}
	return b.String()
}

// writeHeadLine adds a line to a head, each line break in it a space.
func writeHeadLine(b *strings.Builder, s string) {
	b.WriteByte('\n')
	if !strings.ContainsAny(s, headLineBreaks) {
		b.WriteString(s)
		return
	}
	for i := 0; i < len(s); i++ { // bytes: a value need not be UTF-8
		c := s[i]
		if strings.IndexByte(headLineBreaks, c) >= 0 {
			c = ' '
		}
		b.WriteByte(c)
	}
}
