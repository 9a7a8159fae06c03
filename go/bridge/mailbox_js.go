//go:build js

package bridge

// # hearthMailbox, version 6 (set by Go: ServeMailbox, before hearthReady resolves)
//
//	{
//	  version: 6,
//	  receive(from: string, sealed: Uint8Array) => Promise<void>,
//	  notice(kind: 'delivered' | 'expired', to: string, ref: string) => Promise<void>,
//	}
//
// receive hands over one mail from this server's mailbox on a relay: from is
// the depositor's peer ID as the relay authenticated it, sealed the envelope
// (package mailbox). It resolves when Go is done with it: processed, or
// dropped for good (undecipherable, forged, not for us; logged); JS then acks
// it to the relay. It rejects (an Error named GoError) when the failure is
// transient, e.g. storage: JS does not ack, and the relay pushes it again.
// Hand mail over in the order the relay pushed it; Go applies one at a time.
//
// notice tells Go what became of a mail it deposited (hearthP2P.deposit) for
// server to under ref: "delivered" (the recipient took it) or "expired" (the
// relay dropped it unread). It resolves once recorded (JS acks the notice);
// an unknown kind resolves too. A Go panic in either becomes a rejection.

import (
	"context"
	"fmt"
	"syscall/js"
)

// Mailbox is what hearthMailbox calls (in the server: Federation.ReceiveMail
// and Federation.MailNotice).
type Mailbox struct {
	Receive func(ctx context.Context, from string, sealed []byte) error
	Notice  func(ctx context.Context, kind, to, ref string) error
}

// ServeMailbox installs hearthMailbox. Each call runs on its own goroutine;
// the JS callbacks never block.
func ServeMailbox(m Mailbox) {
	receive := js.FuncOf(func(_ js.Value, args []js.Value) any {
		if len(args) != 2 || args[0].Type() != js.TypeString || !args[1].InstanceOf(uint8Array) {
			return rejected(fmt.Errorf("%s.receive takes (from: string, sealed: Uint8Array)", globalMailbox))
		}
		from, sealed := args[0].String(), bytesFromJS(args[1])
		return settleWith(func() error { return m.Receive(context.Background(), from, sealed) })
	})
	notice := js.FuncOf(func(_ js.Value, args []js.Value) any {
		if len(args) != 3 || args[0].Type() != js.TypeString || args[1].Type() != js.TypeString || args[2].Type() != js.TypeString {
			return rejected(fmt.Errorf("%s.notice takes (kind, to, ref: string)", globalMailbox))
		}
		kind, to, ref := args[0].String(), args[1].String(), args[2].String()
		return settleWith(func() error { return m.Notice(context.Background(), kind, to, ref) })
	})
	// Both live as long as the program: never released.
	js.Global().Set(globalMailbox, js.ValueOf(map[string]any{"version": Version, "receive": receive, "notice": notice}))
}

// settleWith returns a promise resolved with undefined when fn succeeds and
// rejected when it fails or panics: one bad mail must not end the server.
func settleWith(fn func() error) js.Value {
	return newPromise(func() (_ js.Value, err error) {
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("panic: %v", p)
			}
		}()
		return js.Undefined(), fn()
	})
}
