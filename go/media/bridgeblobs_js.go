//go:build js

package media

import (
	"context"
	"errors"
	"fmt"
	"io"

	"hearth/go/bridge"
)

// bridgeBlobs is the BlobStore of the wasm build: hearthBlobs (IndexedDB in
// a browser, files under Node) through bridge.Blobs, whose JS error names it
// turns into this package's sentinels.
type bridgeBlobs struct {
	b *bridge.Blobs
}

// OpenBridgeBlobs returns the store JS installed as hearthBlobs.
func OpenBridgeBlobs() (BlobStore, error) {
	b, err := bridge.OpenBlobs()
	if err != nil {
		return nil, fmt.Errorf("open blob store: %w", err)
	}
	return bridgeBlobs{b}, nil
}

func (s bridgeBlobs) Put(ctx context.Context, key string, r io.Reader, size int64) (int64, error) {
	n, err := s.b.Put(ctx, key, r, size)
	return n, classifyBridgeError(err)
}

func (s bridgeBlobs) Get(ctx context.Context, key string) ([]byte, error) {
	data, found, err := s.b.Get(ctx, key)
	if err == nil && !found {
		return nil, fmt.Errorf("get blob %s: %w", key, ErrNoBlob)
	}
	return data, classifyBridgeError(err)
}

func (s bridgeBlobs) Delete(ctx context.Context, key string) error {
	return classifyBridgeError(s.b.Delete(ctx, key))
}

func (s bridgeBlobs) Keys(ctx context.Context, prefix string) ([]string, error) {
	if !validPrefix(prefix) {
		return nil, fmt.Errorf("%w: prefix %q", ErrBadKey, prefix)
	}
	keys, err := s.b.Keys(ctx, prefix)
	return keys, classifyBridgeError(err)
}

// classifyBridgeError marks the JS rejections this package branches on.
func classifyBridgeError(err error) error {
	var e *bridge.Error
	if errors.As(err, &e) {
		switch e.Name {
		case "StorageQuotaError":
			return fmt.Errorf("%w: %w", ErrStoreFull, err)
		case "BlobKeyError":
			return fmt.Errorf("%w: %w", ErrBadKey, err)
		}
	}
	return err
}
