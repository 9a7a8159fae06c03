//go:build js

package bridge

import (
	"context"
	"syscall/js"

	"hearth/go/mailbox"
)

// Error is a JS error that crossed the bridge as {name, message}. Name is
// the stable part (e.g. "StorageQuotaError"); branch on it, never on Message.
type Error struct {
	Name    string
	Message string
}

func (e *Error) Error() string { return e.Name + ": " + e.Message }

// Is maps the names of hearthP2P's rejections to the sentinels of p2p_js.go
// and of package mailbox, so callers can write errors.Is(err,
// ErrPeerUnreachable) or errors.Is(err, mailbox.ErrMailboxFull).
func (e *Error) Is(target error) bool {
	switch target {
	case ErrPeerUnreachable:
		return e.Name == "PeerUnreachableError" || e.Name == "P2PNotRunningError"
	case ErrP2PTimeout:
		return e.Name == "P2PTimeoutError"
	case mailbox.ErrMailboxFull:
		return e.Name == "MailboxFullError"
	case mailbox.ErrRateLimited:
		return e.Name == "MailboxRateLimitedError"
	case mailbox.ErrTooLarge:
		return e.Name == "MailboxTooLargeError"
	case mailbox.ErrNoMailbox:
		return e.Name == "MailboxUnavailableError" || e.Name == "P2PNotRunningError"
	}
	return false
}

// errorFromJS turns a thrown or rejected JS value into an *Error.
func errorFromJS(v js.Value) *Error {
	if v.Type() != js.TypeObject {
		return &Error{Name: "Error", Message: v.String()}
	}
	name, message := v.Get("name"), v.Get("message")
	e := &Error{Name: "Error", Message: v.Call("toString").String()}
	if name.Type() == js.TypeString {
		e.Name = name.String()
	}
	if message.Type() == js.TypeString {
		e.Message = message.String()
	}
	return e
}

type settlement struct {
	value js.Value
	err   error
}

// await waits for the promise (or plain value) p: it returns the fulfilled
// value, or an *Error for a rejection, or ctx.Err() if ctx ends first.
//
// It must not be called on the goroutine of a js.FuncOf callback: the
// promise can only settle once Go yields to the JS event loop, which a
// blocked callback prevents. Call it from a goroutine of its own.
//
// The two js.Funcs it creates are released once the promise settles, even
// when ctx ended first (releasing earlier would make the late settlement
// call a released function); a promise that never settles keeps them.
func await(ctx context.Context, p js.Value) (js.Value, error) {
	settled := make(chan settlement, 1)
	onFulfilled := js.FuncOf(func(_ js.Value, args []js.Value) any {
		settled <- settlement{value: firstArg(args)}
		return nil
	})
	onRejected := js.FuncOf(func(_ js.Value, args []js.Value) any {
		settled <- settlement{err: errorFromJS(firstArg(args))}
		return nil
	})
	release := func() {
		onFulfilled.Release()
		onRejected.Release()
	}
	// The catch is for a settling after Go has exited (a call it stopped
	// waiting for): the callbacks then throw, and the promise they make
	// would be an unhandled rejection (in a headless peer's process, fatal).
	// Boolean is a JS function that ignores it; a Go one would call into Go.
	js.Global().Get("Promise").Call("resolve", p).Call("then", onFulfilled, onRejected).Call("catch", js.Global().Get("Boolean"))
	select {
	case s := <-settled:
		release()
		return s.value, s.err
	case <-ctx.Done():
		go func() {
			<-settled
			release()
		}()
		return js.Undefined(), ctx.Err()
	}
}

func firstArg(args []js.Value) js.Value {
	if len(args) == 0 {
		return js.Undefined()
	}
	return args[0]
}
