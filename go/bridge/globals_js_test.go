//go:build js

package bridge

import (
	"errors"
	"strings"
	"syscall/js"
	"testing"
)

// JS may start Go while hearthStorage and hearthBlobs still open, setting a
// promise of each: Go waits for it, and a failure to open is Go's start-up
// error, saying why.
func TestStorageAndBlobsMayBeGivenAsPromises(t *testing.T) {
	for _, c := range []struct {
		global  string
		version int
		open    func() error
	}{
		{globalStorage, storageVersion, func() error { _, err := OpenStorage(); return err }},
		{globalBlobs, Version, func() error { _, err := OpenBlobs(); return err }},
	} {
		saved := js.Global().Get(c.global)
		t.Cleanup(func() { js.Global().Set(c.global, saved) })

		opened := js.Global().Get("Function").New("version",
			`return new Promise((resolve) => setTimeout(() => resolve({ version }), 20))`).Invoke(c.version)
		js.Global().Set(c.global, opened)
		if err := c.open(); err != nil {
			t.Fatalf("%s, a promise that resolves: %v", c.global, err)
		}

		failed := js.Global().Get("Function").New(`
const e = new Error('IndexedDB is blocked by another tab'); e.name = 'StorageError'
return new Promise((resolve, reject) => setTimeout(() => reject(e), 20))`).Invoke()
		js.Global().Set(c.global, failed)
		err := c.open()
		var jsErr *Error
		if !errors.As(err, &jsErr) || jsErr.Name != "StorageError" || !strings.Contains(err.Error(), c.global+" did not open") || !strings.Contains(err.Error(), "blocked by another tab") {
			t.Fatalf("%s, a promise that rejects: %v", c.global, err)
		}

		js.Global().Set(c.global, js.Undefined())
		if err := c.open(); err == nil {
			t.Fatalf("%s unset: no error", c.global)
		}
	}
}
