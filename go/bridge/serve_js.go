//go:build js

package bridge

import (
	"context"
	"fmt"
	"net/http"
	"syscall/js"

	"hearth/go/httpmem"
)

// Serve installs hearthServe: each call decodes one request, runs h on its
// own goroutine and resolves with the response. The JS callback itself never
// blocks (it runs on the JS event loop). The request's optional signal (an
// AbortSignal: the page that fetched went away, the federation stream was
// reset) cancels the handler's context. A panic anywhere in serving rejects
// that one promise; give h an errcode.Recover to answer 500 instead.
func Serve(h http.Handler) {
	workers := newWorkers(maxIdleWorkers)
	serve := js.FuncOf(func(_ js.Value, args []js.Value) any {
		if len(args) != 1 {
			return rejected(fmt.Errorf("hearthServe takes one request, got %d arguments", len(args)))
		}
		head, body := args[0].Get("head").String(), bytesFromJS(args[0].Get("body"))
		ctx, stop := contextFromSignal(args[0].Get("signal"))
		return workers.promise(func() (js.Value, error) {
			defer stop()
			return serveOne(ctx, h, head, body)
		})
	})
	// serve lives as long as the program: it is never released.
	js.Global().Set(globalServe, serve)
}

// contextFromSignal returns a context cancelled when signal (an AbortSignal,
// or undefined) aborts, and the function that stops listening, to call once
// the request is answered. It runs on the JS event loop, so a signal that
// aborts later cannot be missed between the check and the listener.
func contextFromSignal(signal js.Value) (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	if signal.Type() != js.TypeObject {
		return ctx, cancel
	}
	if signal.Get("aborted").Truthy() {
		cancel()
		return ctx, cancel
	}
	onAbort := js.FuncOf(func(js.Value, []js.Value) any {
		cancel()
		return nil
	})
	signal.Call("addEventListener", "abort", onAbort)
	return ctx, func() {
		signal.Call("removeEventListener", "abort", onAbort)
		onAbort.Release()
		cancel()
	}
}

func serveOne(ctx context.Context, h http.Handler, head string, body []byte) (js.Value, error) {
	req, err := decodeRequest(ctx, head, body)
	if err != nil {
		return js.Value{}, err
	}
	status, header, respBody := httpmem.Serve(h, req)
	return js.ValueOf(map[string]any{"head": encodeResponseHead(status, header), "body": bytesToJS(respBody)}), nil
}

var uint8Array = js.Global().Get("Uint8Array")

// bytesFromJS copies a Uint8Array (or null/undefined: no bytes) into Go.
func bytesFromJS(v js.Value) []byte {
	if v.IsNull() || v.IsUndefined() {
		return nil
	}
	b := make([]byte, v.Get("length").Int())
	js.CopyBytesToGo(b, v)
	return b
}

// bytesToJS copies bytes into a new Uint8Array.
func bytesToJS(b []byte) js.Value {
	arr := uint8Array.New(len(b))
	js.CopyBytesToJS(arr, b)
	return arr
}

// newPromise returns a JS Promise settled by fn, which runs on its own goroutine.
func newPromise(fn func() (js.Value, error)) js.Value {
	return promiseRunning(func(task func()) { go task() }, fn)
}

// promiseRunning returns a JS Promise settled by fn, which start runs on
// some goroutine other than the caller's (the JS event loop's).
func promiseRunning(start func(task func()), fn func() (js.Value, error)) js.Value {
	var executor js.Func
	executor = js.FuncOf(func(_ js.Value, args []js.Value) any {
		resolve, reject := args[0], args[1]
		start(func() {
			v, err := recovered(fn)
			if err != nil {
				reject.Invoke(jsError(err))
				return
			}
			resolve.Invoke(v)
		})
		return nil
	})
	defer executor.Release() // the executor runs synchronously inside the constructor
	return js.Global().Get("Promise").New(executor)
}

// recovered runs fn, turning a panic into its error.
func recovered(fn func() (js.Value, error)) (v js.Value, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = panicError("serve", p)
		}
	}()
	return fn()
}

func rejected(err error) js.Value {
	return js.Global().Get("Promise").Call("reject", jsError(err))
}

// jsError makes a JS Error, the form errors take when they cross to JS.
func jsError(err error) js.Value {
	e := js.Global().Get("Error").New(err.Error())
	e.Set("name", "GoError")
	return e
}
