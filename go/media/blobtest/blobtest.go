// Package blobtest is the test suite every media.BlobStore passes: the
// native ones (package media's tests) and bridge.Blobs over hearthBlobs
// (package bridge's wasm tests), so the JS stores answer as Go's do.
package blobtest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"slices"
	"testing"
	"testing/iotest"

	"hearth/go/media"
)

// Run checks the media.BlobStore contract on store, which must be empty.
func Run(t *testing.T, store media.BlobStore) {
	ctx := context.Background()
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	t.Run("put get", func(t *testing.T) {
		for key, data := range map[string][]byte{"local/abc": big, "remote/example.org:8448/x_Y-1": []byte("hi"), "local/empty": {}, "event/12": []byte("{}")} {
			n, err := store.Put(ctx, key, bytes.NewReader(data), int64(len(data)))
			if err != nil || n != int64(len(data)) {
				t.Fatalf("put %s: %d, %v", key, n, err)
			}
			got, err := store.Get(ctx, key)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("get %s: %d bytes, %v", key, len(got), err)
			}
		}
	})
	t.Run("unknown size", func(t *testing.T) {
		n, err := store.Put(ctx, "local/unsized", iotest.OneByteReader(bytes.NewReader([]byte("streamed"))), -1)
		if err != nil || n != 8 {
			t.Fatalf("put: %d, %v", n, err)
		}
	})
	t.Run("replace", func(t *testing.T) {
		store.Put(ctx, "local/twice", bytes.NewReader([]byte("one")), 3)
		store.Put(ctx, "local/twice", bytes.NewReader([]byte("two!")), 4)
		if got, _ := store.Get(ctx, "local/twice"); string(got) != "two!" {
			t.Fatalf("got %q", got)
		}
	})
	t.Run("failed put leaves nothing", func(t *testing.T) {
		r := io.MultiReader(bytes.NewReader(big), iotest.ErrReader(errors.New("client went away")))
		if _, err := store.Put(ctx, "local/torn", r, -1); err == nil {
			t.Fatal("put of a failing reader succeeded")
		}
		if _, err := store.Get(ctx, "local/torn"); !errors.Is(err, media.ErrNoBlob) {
			t.Fatalf("get after failed put: %v", err)
		}
	})
	t.Run("bad keys", func(t *testing.T) {
		for _, key := range []string{"", "local/", "local/../x", "remote/../local/x", "remote/a/b/c", "other/x", "local/a b"} {
			if _, err := store.Put(ctx, key, bytes.NewReader(nil), 0); !errors.Is(err, media.ErrBadKey) {
				t.Errorf("put %q: %v, want media.ErrBadKey", key, err)
			}
		}
	})
	t.Run("delete and keys", func(t *testing.T) {
		if err := store.Delete(ctx, "local/abc"); err != nil {
			t.Fatal(err)
		}
		if err := store.Delete(ctx, "local/never"); err != nil {
			t.Fatalf("delete of a missing blob: %v", err)
		}
		if _, err := store.Get(ctx, "local/abc"); !errors.Is(err, media.ErrNoBlob) || !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("get after delete: %v, want media.ErrNoBlob and fs.ErrNotExist (go/room's cold events test for that)", err)
		}
		for prefix, want := range map[string][]string{
			"":        {"event/12", "local/empty", "local/twice", "local/unsized", "remote/example.org:8448/x_Y-1"},
			"local/":  {"local/empty", "local/twice", "local/unsized"},
			"remote/": {"remote/example.org:8448/x_Y-1"},
			"event/":  {"event/12"},
		} {
			keys, err := store.Keys(ctx, prefix)
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(keys)
			if !slices.Equal(keys, want) {
				t.Fatalf("keys under %q: %v, want %v", prefix, keys, want)
			}
		}
		if _, err := store.Keys(ctx, "loc"); !errors.Is(err, media.ErrBadKey) {
			t.Fatalf("keys under a prefix that is no namespace: %v", err)
		}
	})
}
