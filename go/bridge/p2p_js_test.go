//go:build js

package bridge

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"syscall/js"
	"testing"
	"time"

	"hearth/go/mailbox"
)

// installFakeP2P sets hearthP2P to an object built by JS source, standing in
// for js/p2p: the Go side is tested against the contract, not against libp2p.
func installFakeP2P(t *testing.T, source string) {
	t.Helper()
	obj := js.Global().Get("Function").New(source).Invoke()
	js.Global().Set(globalP2P, obj)
	t.Cleanup(func() { js.Global().Delete(globalP2P) })
}

// echoP2P answers with the request body and records what it was sent in lastP2PRequest.
const echoP2P = `
globalThis.lastP2PRequest = null
return {
  version: 6,
  peers: () => ['12D3KooWA4Xop1JaT3MHxwYMkCepYsv4iPVopMXwCz5iHYdBfeSB'],
  roundTrip: async (peerId, request, options) => {
    globalThis.lastP2PRequest = { peerId, head: JSON.parse(request.head), body: request.body }
    const body = request.body ?? new Uint8Array(0)
    return { head: JSON.stringify({ status: 201, headers: [['content-type', 'application/octet-stream'], ['x-peer', peerId]] }), body }
  }
}`

func TestP2PTransportCarriesBytesBothWays(t *testing.T) {
	installFakeP2P(t, echoP2P)
	body := make([]byte, 256*1024)
	for i := range body {
		body[i] = byte(i * 7)
	}
	req, _ := http.NewRequest("PUT", "matrix://12D3KooWA4Xop1JaT3MHxwYMkCepYsv4iPVopMXwCz5iHYdBfeSB/_matrix/federation/v1/send/1?x=y", bytes.NewReader(body))
	req.Header.Set("Authorization", "X-Matrix origin=a")
	resp, err := P2PTransport{}.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 201 || !bytes.Equal(got, body) {
		t.Fatalf("status %d, body %d bytes equal=%v", resp.StatusCode, len(got), bytes.Equal(got, body))
	}
	if resp.Header.Get("X-Peer") != "12D3KooWA4Xop1JaT3MHxwYMkCepYsv4iPVopMXwCz5iHYdBfeSB" {
		t.Fatalf("headers %v", resp.Header)
	}
	last := js.Global().Get("lastP2PRequest")
	if url := last.Get("head").Get("url").String(); url != "/_matrix/federation/v1/send/1?x=y" {
		t.Fatalf("url sent = %q", url)
	}
	if h := js.Global().Get("JSON").Call("stringify", last.Get("head").Get("headers")).String(); h != `[["host","12D3KooWA4Xop1JaT3MHxwYMkCepYsv4iPVopMXwCz5iHYdBfeSB"],["authorization","X-Matrix origin=a"]]` {
		t.Fatalf("headers sent = %s", h)
	}
}

func TestP2PTransportNamedErrors(t *testing.T) {
	installFakeP2P(t, `return {
  version: 6, peers: () => [],
  roundTrip: async () => { const e = new Error('peer X is unreachable'); e.name = 'PeerUnreachableError'; throw e }
}`)
	req, _ := http.NewRequest("GET", "matrix://12D3KooWX/_matrix/key/v2/server", nil)
	_, err := P2PTransport{}.RoundTrip(req)
	var p2pErr *Error
	if !errors.Is(err, ErrPeerUnreachable) || !errors.As(err, &p2pErr) || p2pErr.Message != "peer X is unreachable" {
		t.Fatalf("err = %v", err)
	}
}

func TestP2PTransportContextAbortsJS(t *testing.T) {
	installFakeP2P(t, `globalThis.p2pAborted = false
return {
  version: 6, peers: () => [],
  roundTrip: (peerId, request, options) => new Promise((resolve, reject) => {
    options.signal.addEventListener('abort', () => { globalThis.p2pAborted = true; reject(new Error('aborted')) })
  })
}`)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "matrix://12D3KooWX/_matrix/key/v2/server", nil)
	_, err := P2PTransport{}.RoundTrip(req)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	time.Sleep(10 * time.Millisecond) // let the JS rejection run
	if !js.Global().Get("p2pAborted").Bool() {
		t.Fatal("the JS side was not aborted")
	}
}

func TestP2PUnavailable(t *testing.T) {
	js.Global().Delete(globalP2P)
	req, _ := http.NewRequest("GET", "matrix://12D3KooWX/_matrix/key/v2/server", nil)
	if _, err := (P2PTransport{}).RoundTrip(req); !errors.Is(err, ErrNoP2P) {
		t.Fatalf("err = %v", err)
	}
	if KnownPeers() != nil {
		t.Fatal("KnownPeers without a network should be nil")
	}
	installFakeP2P(t, `return { version: 1, peers: () => [], roundTrip: async () => {} }`)
	if _, err := (P2PTransport{}).RoundTrip(req); !errors.Is(err, ErrNoP2P) {
		t.Fatalf("version 1: err = %v", err)
	}
}

func TestKnownPeers(t *testing.T) {
	installFakeP2P(t, echoP2P)
	peers := KnownPeers()
	if len(peers) != 1 || peers[0] != "12D3KooWA4Xop1JaT3MHxwYMkCepYsv4iPVopMXwCz5iHYdBfeSB" {
		t.Fatalf("peers = %v", peers)
	}
}

// WatchedPeers hands JS the servers to watch as an array of strings and
// returns its answer; KnownPeers leaves the watch list alone (no argument).
func TestWatchedPeers(t *testing.T) {
	installFakeP2P(t, `globalThis.lastWatch = 'unset'
return { version: 6, roundTrip: async () => {}, peers: (watch) => { globalThis.lastWatch = watch; return Array.isArray(watch) ? watch.slice(1) : [] } }`)
	peers := WatchedPeers([]string{"12D3KooWA", "12D3KooWB"})
	if len(peers) != 1 || peers[0] != "12D3KooWB" {
		t.Fatalf("peers = %v", peers)
	}
	if got := js.Global().Get("JSON").Call("stringify", js.Global().Get("lastWatch")).String(); got != `["12D3KooWA","12D3KooWB"]` {
		t.Fatalf("JS was asked to watch %s", got)
	}
	KnownPeers()
	if w := js.Global().Get("lastWatch"); !w.IsUndefined() {
		t.Fatalf("KnownPeers passed %v", w)
	}
}

// deposit gets the recipient, the ref and the sealed bytes as they are, and
// its answer's expiresAt becomes the expiry.
func TestP2PDepositorCarriesTheEnvelope(t *testing.T) {
	installFakeP2P(t, `globalThis.lastDeposit = null
return {
  version: 6, peers: () => [], roundTrip: async () => {},
  deposit: async (peerId, ref, sealed, options) => {
    globalThis.lastDeposit = { peerId, ref, sealed, hasSignal: options.signal instanceof AbortSignal }
    return { relay: '12D3KooWRelay', expiresAt: 1767225600000 }
  }
}`)
	sealed := []byte{0, 1, 2, 253, 254, 255}
	expires, err := P2PDepositor{}.Deposit(context.Background(), "12D3KooWBob", "3-7", sealed)
	if err != nil {
		t.Fatal(err)
	}
	if !expires.Equal(time.UnixMilli(1767225600000)) {
		t.Fatalf("expires %v", expires)
	}
	last := js.Global().Get("lastDeposit")
	if last.Get("peerId").String() != "12D3KooWBob" || last.Get("ref").String() != "3-7" ||
		!bytes.Equal(bytesFromJS(last.Get("sealed")), sealed) || !last.Get("hasSignal").Bool() {
		t.Fatalf("deposit got %s", js.Global().Get("JSON").Call("stringify", last).String())
	}
}

// Refusals arrive as the sentinels of package mailbox, by error name.
func TestP2PDepositorNamedErrors(t *testing.T) {
	cases := []struct {
		name string
		want error
	}{
		{"MailboxFullError", mailbox.ErrMailboxFull},
		{"MailboxRateLimitedError", mailbox.ErrRateLimited},
		{"MailboxTooLargeError", mailbox.ErrTooLarge},
		{"MailboxUnavailableError", mailbox.ErrNoMailbox},
		{"P2PNotRunningError", mailbox.ErrNoMailbox},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			installFakeP2P(t, `return {
  version: 6, peers: () => [], roundTrip: async () => {},
  deposit: async () => { const e = new Error('refused'); e.name = '`+tc.name+`'; throw e }
}`)
			_, err := P2PDepositor{}.Deposit(context.Background(), "12D3KooWBob", "1-1", []byte{1})
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
	t.Run("no network", func(t *testing.T) {
		js.Global().Delete(globalP2P)
		if _, err := (P2PDepositor{}).Deposit(context.Background(), "12D3KooWBob", "1-1", []byte{1}); !errors.Is(err, mailbox.ErrNoMailbox) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("no deposit", func(t *testing.T) {
		installFakeP2P(t, `return { version: 6, peers: () => [], roundTrip: async () => {} }`)
		if _, err := (P2PDepositor{}).Deposit(context.Background(), "12D3KooWBob", "1-1", []byte{1}); !errors.Is(err, mailbox.ErrNoMailbox) {
			t.Fatalf("err = %v", err)
		}
	})
}
