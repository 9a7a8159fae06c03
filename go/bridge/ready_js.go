//go:build js

package bridge

import (
	"crypto/ed25519"
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
}

// AnnounceStartup sets hearthReady to a pending promise. Call it first thing
// in main, so that JS finds the promise as soon as the wasm starts running.
func AnnounceStartup() *Startup {
	s := &Startup{}
	executor := js.FuncOf(func(_ js.Value, args []js.Value) any {
		s.resolve, s.reject = args[0], args[1]
		return nil
	})
	defer executor.Release()
	js.Global().Set(globalReady, js.Global().Get("Promise").New(executor))
	return s
}

// Ready resolves hearthReady.
func (s *Startup) Ready(info ReadyInfo) {
	s.resolve.Invoke(js.ValueOf(map[string]any{
		"version":    Version,
		"serverName": info.ServerName,
		"signingKey": bytesToJS(info.SigningKey),
	}))
}

// Failed rejects hearthReady with a readable error.
func (s *Startup) Failed(err error) {
	s.reject.Invoke(jsError(err))
}
