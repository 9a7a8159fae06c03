//go:build js

package bridge

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"syscall/js"
	"testing"
	"time"
)

// callMailbox calls hearthMailbox.method as JS would and waits for its promise.
func callMailbox(t *testing.T, method string, args ...any) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := await(ctx, js.Global().Get(globalMailbox).Call(method, args...))
	return err
}

func TestMailboxGlobal(t *testing.T) {
	type call struct {
		from, kind, to, ref string
		sealed              []byte
	}
	var got []call
	var fail error
	ServeMailbox(Mailbox{
		Receive: func(_ context.Context, from string, sealed []byte) error {
			got = append(got, call{from: from, sealed: sealed})
			if bytes.Equal(sealed, []byte("panic")) {
				panic("bad mail")
			}
			return fail
		},
		Notice: func(_ context.Context, kind, to, ref string) error {
			got = append(got, call{kind: kind, to: to, ref: ref})
			return fail
		},
	})
	t.Cleanup(func() { js.Global().Delete(globalMailbox) })
	if v := js.Global().Get(globalMailbox).Get("version").Int(); v != Version {
		t.Fatalf("version %d", v)
	}

	sealed := []byte{0, 255, 1, 254}
	if err := callMailbox(t, "receive", "12D3KooWAlice", bytesToJS(sealed)); err != nil {
		t.Fatal(err)
	}
	if err := callMailbox(t, "notice", "delivered", "12D3KooWBob", "1-2"); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].from != "12D3KooWAlice" || !bytes.Equal(got[0].sealed, sealed) ||
		got[1].kind != "delivered" || got[1].to != "12D3KooWBob" || got[1].ref != "1-2" {
		t.Fatalf("Go got %+v", got)
	}

	fail = errors.New("storage is full")
	var jsErr *Error
	if err := callMailbox(t, "receive", "12D3KooWAlice", bytesToJS(sealed)); !errors.As(err, &jsErr) || jsErr.Name != "GoError" || !strings.Contains(jsErr.Message, "storage is full") {
		t.Fatalf("a transient failure: %v", err)
	}
	fail = nil
	if err := callMailbox(t, "receive", "12D3KooWAlice", bytesToJS([]byte("panic"))); !errors.As(err, &jsErr) || !strings.Contains(jsErr.Message, "panic: bad mail") {
		t.Fatalf("a panic: %v", err)
	}
	if err := callMailbox(t, "receive", "12D3KooWAlice", "not bytes"); err == nil {
		t.Fatal("receive took a string for the envelope")
	}
	if err := callMailbox(t, "notice", "delivered"); err == nil {
		t.Fatal("notice took one argument")
	}
	// Still serving after all that.
	if err := callMailbox(t, "notice", "expired", "12D3KooWBob", "3-4"); err != nil {
		t.Fatal(err)
	}
}
