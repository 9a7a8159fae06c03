//go:build js

package bridge

// # hearthBlobs, version 6 (set by JS: js/blobs, createBlobStore, before Go starts, or a promise of it)
//
//	{
//	  version: 6,
//	  put(key: string, bytes: Uint8Array) => Promise<void>,
//	  get(key: string) => Promise<Uint8Array | null>,
//	  delete(key: string) => Promise<void>,
//	  keys(prefix?: string) => Promise<string[]>,
//	}
//
// Media bytes and old events' JSON, beside hearthStorage's database:
// IndexedDB (a database of its own, not the journal's) in a browser, files in
// the data directory under Node. Keys are media.ValidKey's ("local/<media
// ID>", "remote/<server>/<media ID>", "event/<stream position>"); JS refuses
// others. keys lists those under one prefix ("local/", "remote/", "event/"),
// or all for "". put resolves only once the bytes are durable
// (IndexedDB transaction complete with durability 'strict'; file fsynced and
// renamed, directory fsynced) and replaces a blob already there; a rejected
// put leaves nothing under the key. get resolves null for a missing key,
// delete resolves for one too. Rejections are Errors named
//
//	StorageQuotaError    the browser or disk is full (media.ErrStoreFull)
//	BlobKeyError         not a valid key (media.ErrBadKey)
//	StoragePersistError  anything else
//
// Package media wraps Blobs as its BlobStore (media.OpenBridgeBlobs) and
// maps these names to its sentinels; bridge cannot import media (media
// imports storage, whose sql.js driver imports bridge).
// put takes the whole blob: JS has no way to append to an IndexedDB value,
// and the body is already whole in memory once it crossed hearthServe.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"syscall/js"
)

// putChunkBytes is how much of a body Put copies into JS at a time.
const putChunkBytes = 256 << 10

// ErrNoBlobs: hearthBlobs is not set, or speaks another version.
var ErrNoBlobs = errors.New("hearthBlobs is not set")

// Blobs is Go's handle on hearthBlobs. Safe for concurrent use (each call
// is a JS promise); it must not be used from a js.FuncOf callback. Failures
// are *Error, with the names above.
type Blobs struct {
	v js.Value
}

// OpenBlobs returns the hearthBlobs global, once it has opened.
func OpenBlobs() (*Blobs, error) {
	v, err := jsGlobalWhenSet(globalBlobs)
	if err != nil {
		return nil, fmt.Errorf("hearthBlobs did not open: %w", err)
	}
	if v.Type() != js.TypeObject {
		return nil, ErrNoBlobs
	}
	if got := v.Get("version"); got.Type() != js.TypeNumber || got.Int() != Version {
		return nil, fmt.Errorf("%w in version %d (got %v)", ErrNoBlobs, Version, got)
	}
	return &Blobs{v: v}, nil
}

// Put copies the body into one Uint8Array (in chunks when its size is
// known, so Go holds no second whole copy) and hands it to JS.
func (b *Blobs) Put(ctx context.Context, key string, r io.Reader, size int64) (int64, error) {
	arr, n, err := readIntoJS(r, size)
	if err != nil {
		return 0, fmt.Errorf("put blob %s: %w", key, err)
	}
	if _, err := await(ctx, b.v.Call("put", key, arr)); err != nil {
		return 0, fmt.Errorf("put blob %s: %w", key, err)
	}
	return n, nil
}

func readIntoJS(r io.Reader, size int64) (js.Value, int64, error) {
	if size < 0 {
		data, err := io.ReadAll(r)
		if err != nil {
			return js.Value{}, 0, err
		}
		return bytesToJS(data), int64(len(data)), nil
	}
	arr := uint8Array.New(size)
	buf := make([]byte, min(size, putChunkBytes))
	var off int64
	for off < size {
		n, err := io.ReadFull(r, buf[:min(int64(len(buf)), size-off)])
		if err != nil {
			return js.Value{}, 0, fmt.Errorf("read body at byte %d of %d: %w", off, size, err)
		}
		js.CopyBytesToJS(arr.Call("subarray", off, off+int64(n)), buf[:n])
		off += int64(n)
	}
	if n, err := r.Read(make([]byte, 1)); n > 0 || (err != nil && err != io.EOF) {
		return js.Value{}, 0, fmt.Errorf("body longer than its %d bytes: %w", size, errors.Join(err, io.ErrShortBuffer))
	}
	return arr, size, nil
}

// Get returns the blob under key; found is false if there is none.
func (b *Blobs) Get(ctx context.Context, key string) (data []byte, found bool, err error) {
	v, err := await(ctx, b.v.Call("get", key))
	if err != nil {
		return nil, false, fmt.Errorf("get blob %s: %w", key, err)
	}
	if v.IsNull() || v.IsUndefined() {
		return nil, false, nil
	}
	return bytesFromJS(v), true, nil
}

func (b *Blobs) Delete(ctx context.Context, key string) error {
	if _, err := await(ctx, b.v.Call("delete", key)); err != nil {
		return fmt.Errorf("delete blob %s: %w", key, err)
	}
	return nil
}

func (b *Blobs) Keys(ctx context.Context, prefix string) ([]string, error) {
	v, err := await(ctx, b.v.Call("keys", prefix))
	if err != nil {
		return nil, fmt.Errorf("list blobs: %w", err)
	}
	keys := make([]string, v.Length())
	for i := range keys {
		keys[i] = v.Index(i).String()
	}
	return keys, nil
}
