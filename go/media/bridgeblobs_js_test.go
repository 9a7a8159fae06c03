//go:build js

package media_test

import (
	"testing"

	"hearth/go/media"
	"hearth/go/media/blobtest"
)

// The JS stores answer as the Go ones do: go_wasm_exec.js installs an
// in-memory js/blobs store as hearthBlobs (js/blobs tests run the same
// checks on IndexedDB and files).
func TestBridgeBlobs(t *testing.T) {
	store, err := media.OpenBridgeBlobs()
	if err != nil {
		t.Fatal(err)
	}
	blobtest.Run(t, store)
}
