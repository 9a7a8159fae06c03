package media

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
)

// MemoryBlobs is a BlobStore in memory: for tests, and for a server given no
// other store. Nothing survives the process.
type MemoryBlobs struct {
	mu    sync.Mutex
	blobs map[string][]byte // guarded by mu
}

var _ BlobStore = (*MemoryBlobs)(nil)

// NewMemoryBlobs returns an empty store.
func NewMemoryBlobs() *MemoryBlobs { return &MemoryBlobs{blobs: map[string][]byte{}} }

func (m *MemoryBlobs) Put(_ context.Context, key string, r io.Reader, _ int64) (int64, error) {
	if !ValidKey(key) {
		return 0, fmt.Errorf("put blob: %w: %q", ErrBadKey, key)
	}
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, r); err != nil {
		return 0, fmt.Errorf("put blob %s: %w", key, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.blobs[key] = buf.Bytes()
	return int64(buf.Len()), nil
}

func (m *MemoryBlobs) Get(_ context.Context, key string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.blobs[key]
	if !ok {
		return nil, fmt.Errorf("get blob %s: %w", key, ErrNoBlob)
	}
	return bytes.Clone(b), nil
}

func (m *MemoryBlobs) Delete(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.blobs, key)
	return nil
}

func (m *MemoryBlobs) Keys(_ context.Context, prefix string) ([]string, error) {
	if !validPrefix(prefix) {
		return nil, fmt.Errorf("%w: prefix %q", ErrBadKey, prefix)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	keys := make([]string, 0, len(m.blobs))
	for k := range m.blobs {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	return keys, nil
}
