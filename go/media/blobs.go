package media

import (
	"context"
	"io"
)

// BlobStore keeps media bytes beside the database, by key (keys.go); the
// database keeps only their metadata. Implementations: FileBlobs (native
// server), MemoryBlobs (tests), and in wasm bridge.Blobs over hearthBlobs
// (IndexedDB in a browser, files under Node). Methods are safe for
// concurrent use.
//
// The invariant Store keeps with it: a media row commits only after its
// blob's Put returned, and a row is deleted before its blob. So a crash
// leaves at worst a blob without a row (an orphan, which Store.Sweep
// removes), never a row without its blob.
type BlobStore interface {
	// Put stores what r yields under key, replacing any blob there, and
	// returns how many bytes that was; it returns only once they are
	// durable. size is what r will yield, or -1 if unknown. An error (from
	// r too) leaves no partial blob under key; a full disk or quota is an
	// error wrapping ErrStoreFull.
	Put(ctx context.Context, key string, r io.Reader, size int64) (int64, error)
	// Get returns the blob under key, or an error wrapping ErrNoBlob.
	Get(ctx context.Context, key string) ([]byte, error)
	// Delete removes the blob under key; a missing one is no error.
	Delete(ctx context.Context, key string) error
	// Keys lists the keys stored under prefix, one of keys.go's ("local/",
	// "remote/", "event/") or "" for all, in no particular order.
	Keys(ctx context.Context, prefix string) ([]string, error)
}
