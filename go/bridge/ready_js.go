//go:build js

package bridge

import (
	"crypto/ed25519"
	"sync"
	"syscall/js"
)

// ReadyInfo is what hearthReady resolves with.
type ReadyInfo struct {
	ServerName string
	// SigningKey is the server's ed25519 private key (seed || public key): the
	// libp2p layer derives the same peer identity from it.
	SigningKey ed25519.PrivateKey
}

// Startup settles hearthReady exactly once.
type Startup struct {
	resolve, reject js.Value
	// stop is closed when JS calls the ready info's stop().
	stop     chan struct{}
	stopOnce sync.Once
}

// AnnounceStartup sets hearthReady to a pending promise. Call it first thing
// in main, so that JS finds the promise as soon as the wasm starts running.
func AnnounceStartup() *Startup {
	s := &Startup{stop: make(chan struct{})}
	executor := js.FuncOf(func(_ js.Value, args []js.Value) any {
		s.resolve, s.reject = args[0], args[1]
		return nil
	})
	defer executor.Release()
	js.Global().Set(globalReady, js.Global().Get("Promise").New(executor))
	return s
}

// Ready resolves hearthReady. Its stop() asks the server to stop (see
// StopRequested): a headless peer run inside a larger program (tests, an
// embedding) ends its Go with it, instead of leaving it running beside.
func (s *Startup) Ready(info ReadyInfo) {
	stop := js.FuncOf(func(js.Value, []js.Value) any {
		s.stopOnce.Do(func() { close(s.stop) })
		return nil
	}) // never released: callable until Go exits
	s.resolve.Invoke(js.ValueOf(map[string]any{
		"version":    Version,
		"serverName": info.ServerName,
		"signingKey": bytesToJS(info.SigningKey),
		"stop":       stop,
	}))
}

// StopRequested is closed once JS has called stop() on the ready info.
func (s *Startup) StopRequested() <-chan struct{} { return s.stop }

// Failed rejects hearthReady with a readable error.
func (s *Startup) Failed(err error) {
	s.reject.Invoke(jsError(err))
}
