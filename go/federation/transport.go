package federation

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"sync"

	"github.com/matrix-org/gomatrixserverlib/spec"

	"hearth/go/httpmem"
)

// Scheme is the URL scheme of every outgoing federation request.
//
// # Addressing
//
// Go never opens sockets. Each outgoing request is handed to the injected
// http.RoundTripper with the URL
//
//	matrix-federation://<destination server name><path>?<query>
//
// where the server name is the destination's libp2p peer ID ("12D3KooW…"),
// so the transport dials URL.Host as a peer and carries the request there
// (over libp2p, the bridge's hearthP2P.roundTrip(peerId, request)). Method,
// path, query, headers (Authorization: X-Matrix …, Content-Type) and body
// must arrive unchanged: the X-Matrix signature covers method, path+query
// (exactly as in URL.RequestURI()), origin, destination and body. A transport
// error means "unreachable now"; the queue retries later.
const Scheme = "matrix-federation"

// InProcess is a federation transport between servers in one process: the
// second implementation of the addressing above (libp2p is the first), used
// by tests and tools. Requests go through the destination's real handler.
// A server marked offline can neither be reached nor reach anyone: requests
// fail at once, as a dial to an absent peer would.
type InProcess struct {
	mu       sync.Mutex
	handlers map[spec.ServerName]http.Handler // guarded by mu
	offline  map[spec.ServerName]bool         // guarded by mu
}

// NewInProcess returns an empty network.
func NewInProcess() *InProcess {
	return &InProcess{handlers: map[spec.ServerName]http.Handler{}, offline: map[spec.ServerName]bool{}}
}

// Register makes a server reachable under its name.
func (n *InProcess) Register(name spec.ServerName, h http.Handler) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.handlers[name] = h
}

// SetOnline connects or disconnects a server.
func (n *InProcess) SetOnline(name spec.ServerName, online bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.offline[name] = !online
}

// Online reports whether a server is connected (not set offline).
func (n *InProcess) Online(name spec.ServerName) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return !n.offline[name]
}

// Transport returns the round tripper every server on this network sends
// with. The sender is the origin of the request's X-Matrix header: signed,
// so a server cannot pass for another one that is offline.
func (n *InProcess) Transport() http.RoundTripper { return inProcessTransport{net: n} }

type inProcessTransport struct{ net *InProcess }

// RoundTrip delivers the request to the handler registered for URL.Host.
func (t inProcessTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != Scheme {
		return nil, fmt.Errorf("in-process transport: scheme %q is not %s", req.URL.Scheme, Scheme)
	}
	origin, _ := xMatrix(req.Header)
	dest := spec.ServerName(req.URL.Host)
	t.net.mu.Lock()
	h, known := t.net.handlers[dest]
	down := t.net.offline[dest] || t.net.offline[origin]
	t.net.mu.Unlock()
	if !known || down {
		return nil, fmt.Errorf("in-process transport: %s cannot reach %s", origin, dest)
	}
	var body []byte
	if req.Body != nil {
		var err error
		if body, err = io.ReadAll(req.Body); err != nil {
			return nil, fmt.Errorf("in-process transport: read body: %w", err)
		}
		req.Body.Close()
	}
	in := req.Clone(req.Context())
	in.Body = io.NopCloser(bytes.NewReader(body))
	in.ContentLength = int64(len(body))
	in.RequestURI = req.URL.RequestURI()
	in.Host = string(dest)
	status, header, respBody := httpmem.Serve(h, in)
	return &http.Response{
		Status: http.StatusText(status), StatusCode: status,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: header, Body: io.NopCloser(bytes.NewReader(respBody)),
		ContentLength: int64(len(respBody)), Request: req,
	}, nil
}
