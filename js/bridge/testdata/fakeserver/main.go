//go:build js

// Command fakeserver is a stand-in Go server for js/bridge/boot.test.js: it
// follows the bridge contract's start-up half only. Its first argument picks a
// behaviour:
//
//	ready   set hearthServe and a resolved hearthReady (answers every request 200 "{}")
//	late    like ready, but only after a 50 ms sleep (main blocks first)
//	reject  set a hearthReady that rejects with Error("storage is broken")
//	exit    exit with code 3 before setting hearthReady
//	panic   panic before setting hearthReady
//
// It lives in testdata so that `go build ./...` and `go vet ./...` skip it.
package main

import (
	"os"
	"syscall/js"
	"time"
)

func main() {
	mode := "ready"
	if len(os.Args) > 1 {
		mode = os.Args[1]
	}
	promise := js.Global().Get("Promise")
	info := js.Global().Get("Object").New()
	info.Set("version", 5) // the bridge contract version (go/bridge.Version)
	info.Set("serverName", "fake.test")
	info.Set("storageSeen", js.Global().Get("hearthStorage").Truthy())
	// Whether Go runs while storage is still opening (a promise of it).
	info.Set("storageWasPromise", js.Global().Get("hearthStorage").Get("then").Type() == js.TypeFunction)
	switch mode {
	case "exit":
		os.Exit(3)
	case "panic":
		panic("fake start-up panic")
	case "reject":
		js.Global().Set("hearthReady", promise.Call("reject", js.Global().Get("Error").New("storage is broken")))
	default:
		if mode == "late" {
			time.Sleep(50 * time.Millisecond)
		}
		js.Global().Set("hearthServe", js.FuncOf(func(this js.Value, args []js.Value) any {
			res := js.Global().Get("Object").New()
			res.Set("head", `{"status":200,"headers":[["Content-Type","application/json"]]}`)
			body := js.Global().Get("Uint8Array").New(2)
			js.CopyBytesToJS(body, []byte("{}"))
			res.Set("body", body)
			return promise.Call("resolve", res)
		}))
		js.Global().Set("hearthReady", promise.Call("resolve", info))
	}
	select {}
}
