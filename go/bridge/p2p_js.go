//go:build js

package bridge

// # hearthP2P, version 6 (set by JS: js/p2p/bridge.js, before Go starts)
//
//	{
//	  version: 6,
//	  roundTrip(peerId: string, request: {head, body}, options?: {signal: AbortSignal})
//	      => Promise<{head, body}>,
//	  peers(watch?: string[]) => string[],
//	  deposit(peerId: string, ref: string, sealed: Uint8Array, options?: {signal: AbortSignal})
//	      => Promise<{relay: string, expiresAt: number}>,
//	}
//
// roundTrip sends one federation request to the server whose name is peerId
// (a libp2p peer ID, "12D3KooW…") and resolves with its response. Bodies are
// bytes, as hearthServe's; heads are the JSON the peers exchange
// (requestHead, responseHead), the request head's url path and query only,
// the destination being peerId. Aborting the signal
// abandons the request. It rejects with an Error whose name is one of
//
//	PeerUnreachableError  the peer is not on the relay, or went away mid-request (fails fast)
//	P2PTimeoutError       the peer did not answer in time (60 s)
//	P2PProtocolError      the peer broke the framing
//	P2PTooLargeError      head over 64 KiB or body over 16 MiB
//	P2PNotRunningError    the p2p node is stopped
//
// peers(watch) lists the server names currently reachable through the relay
// among those watched; given an array, it first makes that the watched set:
// the relays then tell this peer about those servers only (js/p2p/presence.js).
//
// deposit stores a sealed envelope (package mailbox) for the server peerId in
// its mailbox on a relay we are online on that offers one, trying each in
// turn; ref is the transaction ID inside (1–100 of [A-Za-z0-9._~-]). It
// resolves once a relay committed it durably: relay is that relay's peer ID,
// expiresAt (ms since the epoch) when it drops the mail unread. It rejects
// with an Error named MailboxFullError, MailboxRateLimitedError,
// MailboxTooLargeError, MailboxUnavailableError (no relay of ours keeps mail
// for peerId, or none is reachable) or P2PNotRunningError; P2PDepositor maps
// them to package mailbox's sentinels.
//
// On the receiving side JS answers incoming federation streams by calling
// hearthServe with the head's "peer" set to the sender's peer ID; only paths
// under /_matrix/federation/ and /_matrix/key/ get that far (others: 403).

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"syscall/js"
	"time"

	"github.com/matrix-org/gomatrixserverlib/spec"

	"hearth/go/mailbox"
)

// requestHead and responseHead are the JSON heads of a round trip, as the
// wire between peers carries them (js/p2p/framing.js).
type requestHead struct {
	Method  string      `json:"method"`
	URL     string      `json:"url"`
	Headers [][2]string `json:"headers"`
}

type responseHead struct {
	Status  int         `json:"status"`
	Headers [][2]string `json:"headers"`
}

// MaxP2PBodyBytes is the largest request body P2PTransport sends; the JS
// side refuses bigger ones too (js/p2p/constants.js MAX_BODY_BYTES).
const MaxP2PBodyBytes = 16 << 20

var (
	// ErrNoP2P: hearthP2P is not set (no network configured) or speaks another version.
	ErrNoP2P = errors.New("p2p network unavailable")
	// ErrPeerUnreachable: the destination is not online, or went away mid-request.
	ErrPeerUnreachable = errors.New("peer unreachable")
	// ErrP2PTimeout: the destination did not answer in time.
	ErrP2PTimeout = errors.New("peer did not answer in time")
)

// P2PTransport is an http.RoundTripper over hearthP2P: give it to the
// federation client. The request URL's host is the destination server name,
// i.e. its peer ID; any scheme is accepted, so gomatrixserverlib's own
// "matrix://<server name>/path" URLs work as they are, as does
// "https://<peer ID>/path". Request context cancellation aborts the JS side.
// Safe for concurrent use; the zero value is ready.
type P2PTransport struct{}

var _ http.RoundTripper = P2PTransport{}

func (P2PTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		defer req.Body.Close()
	}
	p2p, err := p2pGlobal()
	if err != nil {
		return nil, err
	}
	destination := req.URL.Host
	if destination == "" {
		return nil, fmt.Errorf("p2p round trip: request URL %q names no destination server", req.URL)
	}
	var body []byte
	if req.Body != nil {
		body, err = io.ReadAll(io.LimitReader(req.Body, MaxP2PBodyBytes+1))
		if err != nil {
			return nil, fmt.Errorf("read request body: %w", err)
		}
		if len(body) > MaxP2PBodyBytes {
			return nil, fmt.Errorf("p2p round trip: request body over %d bytes", MaxP2PBodyBytes)
		}
	}
	head := requestHead{Method: req.Method, URL: req.URL.RequestURI(), Headers: [][2]string{{"host", destination}}}
	for name, values := range req.Header {
		if strings.EqualFold(name, "Host") {
			continue
		}
		for _, v := range values {
			head.Headers = append(head.Headers, [2]string{strings.ToLower(name), v})
		}
	}
	headJSON, err := json.Marshal(head)
	if err != nil {
		return nil, fmt.Errorf("encode request head: %w", err)
	}

	result, err := callAbortable(req.Context(), p2p, "roundTrip", destination,
		js.ValueOf(map[string]any{"head": string(headJSON), "body": bytesOrNull(body)}))
	if err != nil {
		return nil, fmt.Errorf("p2p round trip to %s: %w", destination, err)
	}

	var rh responseHead
	if err := json.Unmarshal([]byte(result.Get("head").String()), &rh); err != nil {
		return nil, fmt.Errorf("decode response head from %s: %w", destination, err)
	}
	respBody := bytesFromJS(result.Get("body"))
	resp := &http.Response{
		Status:        fmt.Sprintf("%d %s", rh.Status, http.StatusText(rh.Status)),
		StatusCode:    rh.Status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        http.Header{},
		Body:          io.NopCloser(bytes.NewReader(respBody)),
		ContentLength: int64(len(respBody)),
		Request:       req,
	}
	for _, kv := range rh.Headers {
		resp.Header.Add(kv[0], kv[1])
	}
	return resp, nil
}

// P2PDepositor is a mailbox.Depositor over hearthP2P.deposit: give it to the
// server (server.Config.Depositor). Context cancellation aborts the JS side.
// The zero value is ready.
type P2PDepositor struct{}

var _ mailbox.Depositor = P2PDepositor{}

func (P2PDepositor) Deposit(ctx context.Context, to spec.ServerName, ref string, sealed []byte) (time.Time, error) {
	p2p, err := p2pGlobal()
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: %w", mailbox.ErrNoMailbox, err)
	}
	if p2p.Get("deposit").Type() != js.TypeFunction {
		return time.Time{}, fmt.Errorf("%w: %s has no deposit", mailbox.ErrNoMailbox, globalP2P)
	}
	result, err := callAbortable(ctx, p2p, "deposit", string(to), ref, bytesToJS(sealed))
	if err != nil {
		return time.Time{}, fmt.Errorf("deposit for %s: %w", to, err)
	}
	expiresAt := result.Get("expiresAt")
	if expiresAt.Type() != js.TypeNumber {
		return time.Time{}, fmt.Errorf("deposit for %s: answer has no expiresAt", to)
	}
	return time.UnixMilli(int64(expiresAt.Float())), nil
}

// KnownPeers returns the server names (peer IDs) currently reachable through
// the relay among those watched, or nil without a network.
func KnownPeers() []string { return peers() }

// WatchedPeers makes watch the servers the relays tell this one about (and no
// others), and returns those of them currently reachable; nil without a network.
func WatchedPeers(watch []string) []string {
	list := make([]any, len(watch))
	for i, p := range watch {
		list[i] = p
	}
	return peers(list)
}

// peers calls hearthP2P.peers with args and converts its answer.
func peers(args ...any) []string {
	p2p, err := p2pGlobal()
	if err != nil {
		return nil
	}
	list, err := callJS(p2p, "peers", args...)
	if err != nil {
		log.WithError(err).Warn("list peers")
		return nil
	}
	out := make([]string, list.Length())
	for i := range out {
		out[i] = list.Index(i).String()
	}
	return out
}

// callAbortable calls obj.method(args..., {signal}) and awaits the promise it
// returns; ctx ending aborts the signal, so the JS side stops too.
func callAbortable(ctx context.Context, obj js.Value, method string, args ...any) (js.Value, error) {
	abort := js.Global().Get("AbortController").New()
	promise, err := callJS(obj, method, append(args, js.ValueOf(map[string]any{"signal": abort.Get("signal")}))...)
	if err != nil {
		return js.Value{}, err
	}
	stopAbort := context.AfterFunc(ctx, func() { abort.Call("abort") })
	defer stopAbort()
	return await(ctx, promise)
}

func p2pGlobal() (js.Value, error) {
	p2p := js.Global().Get(globalP2P)
	if p2p.IsUndefined() || p2p.IsNull() {
		return js.Value{}, fmt.Errorf("%w: %s is not set", ErrNoP2P, globalP2P)
	}
	if v := p2p.Get("version"); v.Type() != js.TypeNumber || v.Int() != Version {
		return js.Value{}, fmt.Errorf("%w: %s speaks version %v, Go speaks %d", ErrNoP2P, globalP2P, v, Version)
	}
	return p2p, nil
}

func bytesOrNull(b []byte) any {
	if b == nil {
		return nil
	}
	return bytesToJS(b)
}
