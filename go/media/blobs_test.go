package media_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"hearth/go/media"
	"hearth/go/media/blobtest"
)

// Every BlobStore passes blobtest's suite; bridge.Blobs runs it too.
func TestBlobStores(t *testing.T) {
	t.Run("memory", func(t *testing.T) { blobtest.Run(t, media.NewMemoryBlobs()) })
	t.Run("files", func(t *testing.T) {
		store, err := media.NewFileBlobs(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		blobtest.Run(t, store)
	})
}

func TestFileBlobsRemovesUnfinishedPuts(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "local"), 0o700)
	leftover := filepath.Join(dir, "local", ".put-123")
	os.WriteFile(leftover, []byte("half a picture"), 0o600)
	store, err := media.NewFileBlobs(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(leftover); !os.IsNotExist(err) {
		t.Fatalf("leftover temp file: %v", err)
	}
	if keys, _ := store.Keys(context.Background(), ""); len(keys) != 0 {
		t.Fatalf("keys %v", keys)
	}
}
