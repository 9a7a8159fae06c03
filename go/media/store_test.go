package media_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/matrix-org/gomatrixserverlib/spec"

	"hearth/go/media"
	"hearth/go/storage"
)

const us = spec.ServerName("us.example")

var alice = spec.NewUserIDOrPanic("@alice:us.example", false)

// openDB opens a fresh database: a file natively; in wasm the one sql.js
// database of the test binary, emptied of media.
func openDB(t *testing.T) *storage.DB {
	t.Helper()
	ctx := context.Background()
	db, err := storage.Open(ctx, filepath.Join(t.TempDir(), "hearth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if runtime.GOOS == "js" {
		exec(t, db, `DELETE FROM media`, `DELETE FROM remote_media`)
	}
	return db
}

func exec(t *testing.T, db *storage.DB, statements ...string) {
	t.Helper()
	err := db.Write(context.Background(), func(tx *sql.Tx) error {
		for _, s := range statements {
			if _, err := tx.Exec(s); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func upload(t *testing.T, s *media.Store, data []byte) string {
	t.Helper()
	uri, err := s.Upload(context.Background(), alice, "image/png", "cat.png", bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimPrefix(uri, "mxc://"+string(us)+"/")
}

func keys(t *testing.T, blobs media.BlobStore) []string {
	t.Helper()
	k, err := blobs.Keys(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(k)
	return k
}

func TestUploadSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db := openDB(t)
	blobs, _ := media.NewFileBlobs(dir)
	data := bytes.Repeat([]byte{0xCA, 0xFE}, 512<<10)
	id := upload(t, media.New(db, blobs, us, media.Options{}), data)
	if got := keys(t, blobs); !slices.Equal(got, []string{"local/" + id}) {
		t.Fatalf("blobs %v", got)
	}
	var inRow int64
	if err := db.QueryRow(ctx, `SELECT length(legacy_data) IS NULL AND size = ? FROM media WHERE media_id = ?`, len(data), id).Scan(&inRow); err != nil || inRow != 1 {
		t.Fatalf("the row holds bytes or the wrong size: %v", err)
	}

	reopened, err := media.NewFileBlobs(dir)
	if err != nil {
		t.Fatal(err)
	}
	s := media.New(db, reopened, us, media.Options{})
	if moved, swept, err := s.Recover(ctx); err != nil || moved+swept != 0 {
		t.Fatalf("recover: moved %d, swept %d, %v", moved, swept, err)
	}
	m, err := s.Get(ctx, us, id)
	if err != nil || !bytes.Equal(m.Data, data) || m.ContentType != "image/png" || m.FileName != "cat.png" {
		t.Fatalf("after restart: %d bytes, %+v, %v", len(m.Data), m.ContentType, err)
	}
}

func TestDeleteRemovesTheBlob(t *testing.T) {
	ctx := context.Background()
	blobs := media.NewMemoryBlobs()
	s := media.New(openDB(t), blobs, us, media.Options{})
	id := upload(t, s, []byte("picture"))
	if err := s.Delete(ctx, id); err != nil {
		t.Fatal(err)
	}
	if got := keys(t, blobs); len(got) != 0 {
		t.Fatalf("blobs after delete: %v", got)
	}
	if _, err := s.GetLocal(ctx, id); !errors.Is(err, media.ErrNotFound) {
		t.Fatalf("get after delete: %v", err)
	}
	if err := s.Delete(ctx, id); !errors.Is(err, media.ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
}

// A crash after a blob's Put and before its row's commit leaves an orphan;
// the next start-up's Recover removes it and keeps every named blob.
func TestRecoverSweepsOrphans(t *testing.T) {
	ctx := context.Background()
	blobs := media.NewMemoryBlobs()
	s := media.New(openDB(t), blobs, us, media.Options{})
	id := upload(t, s, []byte("kept"))
	for _, orphan := range []string{"local/crashed", "remote/them.example/evicted"} {
		blobs.Put(ctx, orphan, strings.NewReader("orphan"), 6)
	}
	// An old event's JSON has no media row, and is no orphan.
	if err := (media.EventBlobs{Blobs: blobs}).PutEventJSON(ctx, 7, []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	moved, swept, err := s.Recover(ctx)
	if err != nil || moved != 0 || swept != 2 {
		t.Fatalf("recover: moved %d, swept %d, %v", moved, swept, err)
	}
	if got := keys(t, blobs); !slices.Equal(got, []string{"event/7", "local/" + id}) {
		t.Fatalf("blobs after sweep: %v", got)
	}
}

// A recovery running beside the server (it starts after the server is
// ready) must not sweep the blob of an upload whose row is not yet
// committed: it waits for the upload, which it then sees.
func TestRecoverWaitsForAnUploadInFlight(t *testing.T) {
	ctx := context.Background()
	blobs := &heldPuts{BlobStore: media.NewMemoryBlobs(), stored: make(chan struct{}), release: make(chan struct{}), listed: make(chan struct{}, 1)}
	s := media.New(openDB(t), blobs, us, media.Options{})
	uploaded := make(chan string, 1)
	go func() {
		uri, err := s.Upload(ctx, alice, "text/plain", "note.txt", strings.NewReader("in flight"), 9)
		if err != nil {
			t.Error(err)
		}
		uploaded <- strings.TrimPrefix(uri, "mxc://"+string(us)+"/")
	}()
	<-blobs.stored // the blob is there, its row is not
	type result struct{ moved, swept int }
	recovered := make(chan result, 1)
	go func() {
		moved, swept, err := s.Recover(ctx)
		if err != nil {
			t.Error(err)
		}
		recovered <- result{moved, swept}
	}()
	select {
	case <-blobs.listed:
		t.Error("recover listed the blobs while an upload was between its blob and its row")
	case <-time.After(200 * time.Millisecond):
	}
	close(blobs.release)
	id := <-uploaded
	if r := <-recovered; r.moved != 0 || r.swept != 0 {
		t.Fatalf("recover: moved %d, swept %d", r.moved, r.swept)
	}
	if m, err := s.GetLocal(ctx, id); err != nil || string(m.Data) != "in flight" {
		t.Fatalf("the upload after recovery: %q, %v", m.Data, err)
	}
}

// heldPuts holds each Put, once its bytes are stored, until release closes,
// and tells of blob listings.
type heldPuts struct {
	media.BlobStore
	stored, release, listed chan struct{}
}

func (h *heldPuts) Put(ctx context.Context, key string, r io.Reader, size int64) (int64, error) {
	n, err := h.BlobStore.Put(ctx, key, r, size)
	close(h.stored)
	<-h.release
	return n, err
}

func (h *heldPuts) Keys(ctx context.Context, prefix string) ([]string, error) {
	select {
	case h.listed <- struct{}{}:
	default:
	}
	return h.BlobStore.Keys(ctx, prefix)
}

// Rows from before migration 7 keep their bytes in legacy_data: served from
// there, then moved to the blob store by Recover.
func TestRecoverMovesLegacyBytes(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	exec(t, db, `INSERT INTO media (media_id, content_type, filename, uploader, created_ts, size, legacy_data)
		VALUES ('old', 'text/plain', 'a.txt', '@alice:us.example', 1, 5, X'68656c6c6f')`)
	blobs := media.NewMemoryBlobs()
	s := media.New(db, blobs, us, media.Options{})
	if m, err := s.GetLocal(ctx, "old"); err != nil || string(m.Data) != "hello" {
		t.Fatalf("before the move: %q, %v", m.Data, err)
	}
	if moved, _, err := s.Recover(ctx); err != nil || moved != 1 {
		t.Fatalf("recover: moved %d, %v", moved, err)
	}
	var remaining int
	db.QueryRow(ctx, `SELECT COUNT(*) FROM media WHERE legacy_data IS NOT NULL`).Scan(&remaining)
	if remaining != 0 {
		t.Fatalf("%d rows still hold bytes", remaining)
	}
	if b, err := blobs.Get(ctx, "local/old"); err != nil || string(b) != "hello" {
		t.Fatalf("moved blob: %q, %v", b, err)
	}
	if m, err := s.GetLocal(ctx, "old"); err != nil || string(m.Data) != "hello" {
		t.Fatalf("after the move: %q, %v", m.Data, err)
	}
}

func TestQuota(t *testing.T) {
	ctx := context.Background()
	blobs := media.NewMemoryBlobs()
	s := media.New(openDB(t), blobs, us, media.Options{MaxBytes: 100, QuotaBytes: 250})
	t.Run("file over the limit", func(t *testing.T) {
		for _, size := range []int64{101, -1} { // declared, and found while streaming
			_, err := s.Upload(ctx, alice, "", "", bytes.NewReader(make([]byte, 101)), size)
			if !errors.Is(err, media.ErrTooLarge) {
				t.Fatalf("size %d: %v, want ErrTooLarge", size, err)
			}
		}
	})
	t.Run("store full", func(t *testing.T) {
		upload(t, s, make([]byte, 100))
		upload(t, s, make([]byte, 100))
		_, err := s.Upload(ctx, alice, "", "", bytes.NewReader(make([]byte, 60)), 60)
		if !errors.Is(err, media.ErrStoreFull) || !errors.Is(err, storage.ErrFull) {
			t.Fatalf("upload into a full store: %v, want ErrStoreFull (storage.ErrFull)", err)
		}
		upload(t, s, make([]byte, 50)) // what fits still does
	})
	if got := keys(t, blobs); len(got) != 3 {
		t.Fatalf("refused uploads left blobs: %v", got)
	}
}

// remote serves files of other servers, counting fetches.
type remote struct {
	fetches map[string]int
}

func (r *remote) fetch(_ context.Context, server spec.ServerName, mediaID string, maxBytes int64) (media.Media, error) {
	r.fetches[mediaID]++
	if mediaID == "missing" {
		return media.Media{}, fmt.Errorf("%w: %s", media.ErrNotFound, mediaID)
	}
	return media.Media{ContentType: "image/jpeg", Data: bytes.Repeat([]byte(mediaID[:1]), 100)}, nil
}

func TestRemoteCacheEvictsLeastRecentlyUsed(t *testing.T) {
	ctx := context.Background()
	clock := time.UnixMilli(1_000_000_000)
	r := &remote{fetches: map[string]int{}}
	blobs := media.NewMemoryBlobs()
	s := media.New(openDB(t), blobs, us, media.Options{
		RemoteCacheBytes: 300, Now: func() time.Time { return clock }, FetchRemote: r.fetch,
	})
	get := func(id string) {
		t.Helper()
		clock = clock.Add(time.Hour) // past accessResolution: every view counts
		if m, err := s.Get(ctx, "them.example", id); err != nil || len(m.Data) != 100 {
			t.Fatalf("get %s: %v", id, err)
		}
	}
	get("a")
	get("b")
	get("c")
	get("a") // from the cache; b is now the least recently used
	get("d") // over 300 bytes: b goes
	want := []string{"remote/them.example/a", "remote/them.example/c", "remote/them.example/d"}
	if got := keys(t, blobs); !slices.Equal(got, want) {
		t.Fatalf("cached %v, want %v", got, want)
	}
	get("b")
	if r.fetches["a"] != 1 || r.fetches["b"] != 2 {
		t.Fatalf("fetches %v: a cached once, b fetched again after eviction", r.fetches)
	}
	if _, err := s.Get(ctx, "them.example", "missing"); !errors.Is(err, media.ErrNotFound) {
		t.Fatalf("missing remote media: %v", err)
	}
	if _, err := s.Get(ctx, "them.example", "../../etc"); !errors.Is(err, media.ErrNotFound) || r.fetches["../../etc"] != 0 {
		t.Fatalf("a media ID no server mints was fetched: %v", err)
	}
}

// Uploads of our own come before other servers' pictures: a full quota
// evicts cache first.
func TestUploadEvictsCacheBeforeRefusing(t *testing.T) {
	ctx := context.Background()
	r := &remote{fetches: map[string]int{}}
	blobs := media.NewMemoryBlobs()
	s := media.New(openDB(t), blobs, us, media.Options{QuotaBytes: 250, FetchRemote: r.fetch})
	s.Get(ctx, "them.example", "a")
	s.Get(ctx, "them.example", "b")
	id := upload(t, s, make([]byte, 100))
	if got := keys(t, blobs); !slices.Equal(got, []string{"local/" + id, "remote/them.example/b"}) {
		t.Fatalf("blobs %v", got)
	}
}
