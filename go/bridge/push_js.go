//go:build js

package bridge

// # hearthPush, version 6 (set by JS: js/push, createPushGateway, before Go starts)
//
//	{
//	  version: 6,
//	  notify(url: string, body: Uint8Array, options?: {signal: AbortSignal})
//	      => Promise<{status: number, body: Uint8Array}>,
//	}
//
// notify POSTs body (JSON, the push gateway API's notification) to url, an
// HTTP pusher's data.url, with the Fetch API, and resolves with the
// gateway's status and (at most 64 KiB of) its answer, whatever the status.
// It rejects only when no answer came: an Error named PushNetworkError (the
// gateway is unreachable, the browser refused the request) or AbortError
// (the signal aborted). Package push retries both with back-off.
//
// In a service worker, the page's origin decides what fetch may reach: a
// gateway must allow cross-origin POSTs (CORS) to be told anything.

import (
	"context"
	"errors"
	"fmt"
	"syscall/js"
)

// ErrNoPush: hearthPush is not set, or speaks another version.
var ErrNoPush = errors.New("hearthPush is not set")

// PushGateway is push.Gateway over hearthPush. Safe for concurrent use; it
// must not be used from a js.FuncOf callback.
type PushGateway struct {
	v js.Value
}

// OpenPushGateway returns the hearthPush global.
func OpenPushGateway() (*PushGateway, error) {
	v := js.Global().Get(globalPush)
	if v.Type() != js.TypeObject {
		return nil, ErrNoPush
	}
	if got := v.Get("version"); got.Type() != js.TypeNumber || got.Int() != Version {
		return nil, fmt.Errorf("%w in version %d (got %v)", ErrNoPush, Version, got)
	}
	return &PushGateway{v: v}, nil
}

// Notify POSTs body to url through JS's fetch.
func (g *PushGateway) Notify(ctx context.Context, url string, body []byte) (int, []byte, error) {
	res, err := callAbortable(ctx, g.v, "notify", url, bytesToJS(body))
	if err != nil {
		return 0, nil, fmt.Errorf("push to %s: %w", url, err)
	}
	status := res.Get("status")
	if status.Type() != js.TypeNumber {
		return 0, nil, fmt.Errorf("push to %s: hearthPush.notify resolved without a status", url)
	}
	return status.Int(), bytesFromJS(res.Get("body")), nil
}
