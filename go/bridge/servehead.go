package bridge

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// The serve contract's heads (globals_js.go), decoded and encoded here with
// no syscall/js, so native tests and the fuzzer reach them: every head
// comes from a page or another peer.

// requestHead and responseHead are the JSON heads of the serve contract.
type requestHead struct {
	Method  string      `json:"method"`
	URL     string      `json:"url"`
	Headers [][2]string `json:"headers"`
	Peer    string      `json:"peer,omitempty"`
}

type responseHead struct {
	Status  int         `json:"status"`
	Headers [][2]string `json:"headers"`
}

// peerKey is the request context key under which a request carries the
// libp2p peer ID it arrived from ("" for local requests).
type peerKey struct{}

// PeerFromContext returns the libp2p peer a request came from, if any.
func PeerFromContext(ctx context.Context) string {
	p, _ := ctx.Value(peerKey{}).(string)
	return p
}

// decodeRequest builds the request a JSON head and its body describe. The
// Host header, when present, becomes req.Host, as it would off the wire.
func decodeRequest(ctx context.Context, headJSON string, body []byte) (*http.Request, error) {
	var head requestHead
	if err := json.Unmarshal([]byte(headJSON), &head); err != nil {
		return nil, fmt.Errorf("decode request head: %w", err)
	}
	if head.Peer != "" {
		ctx = context.WithValue(ctx, peerKey{}, head.Peer)
	}
	req, err := http.NewRequestWithContext(ctx, head.Method, head.URL, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("build request for %q: %w", head.URL, err)
	}
	req.RequestURI = req.URL.RequestURI()
	for _, kv := range head.Headers {
		req.Header.Add(kv[0], kv[1])
	}
	if host := req.Header.Get("Host"); host != "" {
		req.Host = host
	}
	return req, nil
}

// encodeResponseHead is the JSON head of a response: its status and every
// header value, names in lower case (as fetch's Headers gives them).
func encodeResponseHead(status int, header http.Header) ([]byte, error) {
	resp := responseHead{Status: status, Headers: [][2]string{}}
	for name, values := range header {
		for _, v := range values {
			resp.Headers = append(resp.Headers, [2]string{strings.ToLower(name), v})
		}
	}
	b, err := json.Marshal(resp)
	if err != nil {
		return nil, fmt.Errorf("encode response head: %w", err)
	}
	return b, nil
}
