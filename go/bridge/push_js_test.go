//go:build js

package bridge

import (
	"context"
	"errors"
	"syscall/js"
	"testing"
	"time"
)

// The Go side of hearthPush, against a stand-in for js/push (js/push has
// its own test against a real HTTP server).
func TestPushGatewayCarriesTheNotification(t *testing.T) {
	obj := js.Global().Get("Function").New(`
globalThis.lastPush = null
return {
  version: 6,
  notify: async (url, body, options) => {
    if (url.includes('unreachable')) { const e = new Error('connection refused'); e.name = 'PushNetworkError'; throw e }
    if (url.includes('hang')) return new Promise((resolve, reject) => options.signal.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError'))))
    globalThis.lastPush = { url, text: new TextDecoder().decode(body), hasSignal: options.signal instanceof AbortSignal }
    return { status: 200, body: new TextEncoder().encode('{"rejected":["k"]}') }
  }
}`).Invoke()
	js.Global().Set(globalPush, obj)
	t.Cleanup(func() { js.Global().Delete(globalPush) })

	g, err := OpenPushGateway()
	if err != nil {
		t.Fatal(err)
	}
	status, answer, err := g.Notify(context.Background(), "https://push.example.org/_matrix/push/v1/notify", []byte(`{"notification":{}}`))
	if err != nil || status != 200 || string(answer) != `{"rejected":["k"]}` {
		t.Fatalf("notify: %d %q %v", status, answer, err)
	}
	last := js.Global().Get("lastPush")
	if last.Get("url").String() != "https://push.example.org/_matrix/push/v1/notify" || last.Get("text").String() != `{"notification":{}}` || !last.Get("hasSignal").Bool() {
		t.Fatalf("JS saw %v", last)
	}

	_, _, err = g.Notify(context.Background(), "https://unreachable.example.org/_matrix/push/v1/notify", nil)
	var jsErr *Error
	if !errors.As(err, &jsErr) || jsErr.Name != "PushNetworkError" {
		t.Fatalf("unreachable: %v", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, _, err := g.Notify(ctx, "https://hang.example.org/_matrix/push/v1/notify", nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a cancelled push: %v", err)
	}

	obj.Set("version", 3)
	if _, err := OpenPushGateway(); !errors.Is(err, ErrNoPush) {
		t.Fatalf("another version: %v", err)
	}
}
