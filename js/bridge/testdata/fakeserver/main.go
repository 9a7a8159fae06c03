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
//	storage wait for hearthStorage as the real server does, and end with a
//	        rejected hearthReady if it fails to open
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
	info.Set("version", 6) // the bridge contract version (go/bridge.Version)
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
	case "storage":
		failed := make(chan js.Value, 1)
		onOpened := js.FuncOf(func(js.Value, []js.Value) any { failed <- js.Null(); return nil })
		onFailed := js.FuncOf(func(_ js.Value, args []js.Value) any { failed <- args[0]; return nil })
		promise.Call("resolve", js.Global().Get("hearthStorage")).Call("then", onOpened, onFailed)
		if reason := <-failed; !reason.IsNull() {
			js.Global().Set("hearthReady", promise.Call("reject", reason))
			return // main ends, and with it Go
		}
		js.Global().Set("hearthReady", promise.Call("resolve", info))
	default:
		if mode == "late" {
			time.Sleep(50 * time.Millisecond)
		}
		js.Global().Set("hearthServe", js.FuncOf(func(this js.Value, args []js.Value) any {
			res := js.Global().Get("Object").New()
			res.Set("head", "200\ncontent-type\napplication/json")
			body := js.Global().Get("Uint8Array").New(2)
			js.CopyBytesToJS(body, []byte("{}"))
			res.Set("body", body)
			return promise.Call("resolve", res)
		}))
		js.Global().Set("hearthReady", promise.Call("resolve", info))
	}
	select {}
}
