//go:build js

// Package bridge is the one place where Go meets JavaScript: nothing else in
// Hearth imports syscall/js or touches globalThis.
//
// # The contract, version 6
//
// Go and JS share exactly these globals on globalThis. The JS side of the same
// list is js/bridge/globals.js; change both together and bump Version when a
// shape changes.
//
//	global          set by  shape
//	hearthServe     Go      (request) => Promise<response>, see serve_js.go
//	hearthReady     Go      Promise<{version, serverName, signingKey, stop}>; rejects
//	                        with an Error whose message says why start-up failed.
//	                        signingKey: Uint8Array(64), ed25519 seed || public key,
//	                        for the libp2p identity; stop(): Go stops its
//	                        background work and exits (see ready_js.go)
//	hearthStorage   JS      the SQLite database (sql.js), see storage_js.go;
//	                        set before the wasm starts: the object, or a
//	                        promise of it while it opens (Go waits for it)
//	hearthP2P       JS      outgoing federation over libp2p, and deposits in
//	                        other servers' mailboxes on relays, see p2p_js.go;
//	                        may be absent (no network: federation requests fail)
//	hearthMailbox   Go      {version, receive, notice}: mail from this server's
//	                        mailboxes, and notices about mail it deposited,
//	                        see mailbox_js.go; set before hearthReady resolves
//	hearthBlobs     JS      {version, put, get, delete, keys}: media bytes
//	                        beside the database, see blobs_js.go; set before
//	                        the wasm starts, as hearthStorage is
//	hearthPush      JS      {version, notify}: POSTs to push gateways (HTTP
//	                        pushers) with fetch, see push_js.go; set before
//	                        the wasm starts; may be absent (nothing is pushed)
//
// request  = {head: string, body: Uint8Array | null, signal?: AbortSignal}
//
//	signal, when given, cancels the handler's context as it aborts.
//
// head     = lines joined by "\n": the method, the url (absolute, or path and
//
//	query), the libp2p peer ID a federation request came from ("" for a
//	local one), then each header's name and value, a line each
//
// response = {head: string, body: Uint8Array}
// head     = lines joined by "\n": the status, then each header's name and value
//
// No line holds CR, LF or NUL: JS refuses such a request head (fetch and
// libp2p heads never need one), and Go turns them into spaces in a response's
// header values, as net/http's server does. Bodies always cross as bytes,
// never as text, and each crossing reads a request with a handful of
// js.Value calls: the head is one string, lines rather than JSON, as
// encoding/json in wasm cost 40–70 µs a head (servehead.go).
//
// Version 2 added hearthP2P.deposit and hearthMailbox (offline delivery);
// version 3 added hearthBlobs (media out of the database); version 4 added
// hearthPush (notifications to push gateways); version 5 has hearthP2P.peers
// take the peers to watch (presence limited to them); version 6 has
// hearthServe's heads in lines instead of JSON. hearthP2P, hearthMailbox,
// hearthBlobs and hearthPush carry this same version; hearthStorage has its
// own (storageVersion).
package bridge

import (
	"context"
	"syscall/js"
)

// Version of the contract above. JS checks it against its own.
const Version = 6

const (
	globalServe   = "hearthServe"
	globalReady   = "hearthReady"
	globalStorage = "hearthStorage"
	globalP2P     = "hearthP2P"
	globalMailbox = "hearthMailbox"
	globalBlobs   = "hearthBlobs"
	globalPush    = "hearthPush"
)

// jsGlobalWhenSet returns the global name, first waiting for it if JS set a
// promise of it: JS starts Go while hearthStorage and hearthBlobs still open,
// so Go's own start-up runs meanwhile (the database image is read from
// IndexedDB then: ~0.4 s at 30,000 events). Call it from main or another
// goroutine of Go's own, not from a js.FuncOf callback (see await).
func jsGlobalWhenSet(name string) (js.Value, error) {
	v := js.Global().Get(name)
	if v.Type() == js.TypeObject && v.Get("then").Type() == js.TypeFunction {
		return await(context.Background(), v)
	}
	return v, nil
}
