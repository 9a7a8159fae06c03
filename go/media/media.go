// Package media is the content repository (client-server API, "Content
// repository"): files by mxc:// URI. The bytes live in a BlobStore beside the
// database (files on disk, IndexedDB in a browser), the metadata in the
// database (tables media and remote_media), so neither sql.js's memory nor
// its journal grows with pictures.
//
// Media of other servers is federation's to fetch: Options.FetchRemote is
// its hook (GET /_matrix/federation/v1/media/download/{mediaId}); without it
// remote media is ErrNotFound. What it fetches is cached (cache.go), bounded
// by Options.RemoteCacheBytes, least recently used evicted first.
package media

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/matrix-org/gomatrixserverlib/spec"
	"github.com/sirupsen/logrus"

	"hearth/go/storage"
)

// Defaults of Options' limits.
const (
	// DefaultMaxBytes caps one file. Under wasm a body still crosses the
	// bridge whole (hearthServe), so it is held in memory while uploaded.
	DefaultMaxBytes = 10 << 20
	// DefaultQuotaBytes caps all blobs, uploads and cache together.
	DefaultQuotaBytes = 2 << 30
	// DefaultRemoteCacheBytes caps other servers' cached media.
	DefaultRemoteCacheBytes = 256 << 20
)

// Media is one file.
type Media struct {
	ContentType string
	FileName    string
	Data        []byte
}

// Options configure Store; zero values mean production defaults.
type Options struct {
	MaxBytes         int64            // one file; 0: DefaultMaxBytes
	QuotaBytes       int64            // all blobs; 0: DefaultQuotaBytes
	RemoteCacheBytes int64            // other servers' cached media; 0: DefaultRemoteCacheBytes
	Now              func() time.Time // nil: time.Now
	Random           io.Reader        // nil: crypto/rand
	// FetchRemote fetches media of another server, refusing files over
	// maxBytes; nil: remote media is not found. Get caches what it returns;
	// it should return ErrNotFound wrapped when the other server has no
	// such media.
	FetchRemote func(ctx context.Context, server spec.ServerName, mediaID string, maxBytes int64) (Media, error)
}

// Store is the media repository of one server.
//
// Its invariant with its BlobStore: a row is inserted only after its blob's
// Put returned (durable), and deleted before its blob is. A crash between
// the two leaves an orphan blob, never a row without bytes; Recover removes
// orphans at start-up.
type Store struct {
	db     *storage.DB
	blobs  BlobStore
	server spec.ServerName
	opts   Options

	// quotaMu guards reserved, and is held while an upload or a cache insert
	// checks the quota, so two of them cannot both take the last bytes.
	// Lock order: quotaMu before cacheMu.
	quotaMu  sync.Mutex
	reserved int64 // bytes of Puts in flight, counted against QuotaBytes
	// cacheMu serialises changes to the remote cache (insert, evict): an
	// eviction's blob delete must not remove the blob of a concurrent
	// re-fetch of the same file.
	cacheMu sync.Mutex
	// putting is held for reading from a blob's Put until its row commits
	// (or the blob is deleted again), and from a row's deletion until its
	// blob's; Recover holds it for writing: its sweep must not take a blob
	// whose row is about to come for an orphan, nor its move bring back a
	// deleted file.
	putting sync.RWMutex
	thumbs  *thumbCache   // thumbnails made, by media, box and method (thumbnail.go)
	uploads uploadSignals // downloads waiting for created IDs' uploads (async.go)
}

// New returns the media store of the server named server, its bytes in blobs.
// Recover may run while it serves.
func New(db *storage.DB, blobs BlobStore, server spec.ServerName, opts Options) *Store {
	if opts.MaxBytes == 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	if opts.QuotaBytes == 0 {
		opts.QuotaBytes = DefaultQuotaBytes
	}
	if opts.RemoteCacheBytes == 0 {
		opts.RemoteCacheBytes = DefaultRemoteCacheBytes
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Random == nil {
		opts.Random = rand.Reader
	}
	return &Store{db: db, blobs: blobs, server: server, opts: opts, thumbs: newThumbCache(thumbnailCacheBytes),
		uploads: uploadSignals{waiting: map[string]*uploadSignal{}}}
}

// MaxBytes is the largest file accepted.
func (s *Store) MaxBytes() int64 { return s.opts.MaxBytes }

// Upload stores the file body yields (size bytes, or -1 if unknown) and
// returns its mxc:// URI once bytes and row are durable. Over MaxBytes is
// ErrTooLarge, over the quota ErrStoreFull.
func (s *Store) Upload(ctx context.Context, uploader spec.UserID, contentType, fileName string, body io.Reader, size int64) (string, error) {
	mediaID, err := s.newMediaID()
	if err != nil {
		return "", err
	}
	if err := s.store(ctx, uploader, mediaID, contentType, fileName, body, size, nil); err != nil {
		return "", err
	}
	return s.uri(mediaID), nil
}

// newMediaID mints the ID of a new file of this server.
func (s *Store) newMediaID() (string, error) {
	b := make([]byte, 18)
	if _, err := io.ReadFull(s.opts.Random, b); err != nil {
		return "", fmt.Errorf("make media ID: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// uri is the mxc:// URI of a file of this server.
func (s *Store) uri(mediaID string) string { return "mxc://" + string(s.server) + "/" + mediaID }

// store puts a file's bytes in the blob store and then its row; check, when
// not nil, runs in the row's transaction first and may refuse the file.
func (s *Store) store(ctx context.Context, uploader spec.UserID, mediaID, contentType, fileName string, body io.Reader, size int64, check func(tx *sql.Tx) error) error {
	if size > s.opts.MaxBytes {
		return fmt.Errorf("%w: %d bytes, at most %d", ErrTooLarge, size, s.opts.MaxBytes)
	}
	if contentType == "" {
		contentType = "application/octet-stream"
	}
	s.putting.RLock()
	defer s.putting.RUnlock()
	reservation := size
	if reservation < 0 {
		reservation = s.opts.MaxBytes
	}
	release, err := s.reserve(ctx, reservation)
	if err != nil {
		return err
	}
	defer release()
	key := localPrefix + mediaID
	n, err := s.blobs.Put(ctx, key, &limitedReader{r: body, left: s.opts.MaxBytes}, size)
	if err != nil {
		return fmt.Errorf("store upload: %w", err)
	}
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		if check != nil {
			if err := check(tx); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx,
			`INSERT INTO media (media_id, content_type, filename, uploader, created_ts, size) VALUES (?, ?, ?, ?, ?, ?)`,
			mediaID, contentType, fileName, uploader.String(), s.opts.Now().UnixMilli(), n)
		if err != nil {
			return fmt.Errorf("store media row: %w", err)
		}
		return nil
	})
	if err != nil {
		s.deleteBlob(ctx, key) // else an orphan until the next start
		return err
	}
	return nil
}

// Get returns a file of this server, or of another: from the cache, else
// through FetchRemote, then cached. Media never changes once uploaded, so a
// cached copy stays valid.
func (s *Store) Get(ctx context.Context, server spec.ServerName, mediaID string) (Media, error) {
	if server != s.server {
		return s.getRemote(ctx, server, mediaID)
	}
	return s.GetLocal(ctx, mediaID)
}

// GetLocal returns a file of this server only (what federation serves).
func (s *Store) GetLocal(ctx context.Context, mediaID string) (Media, error) {
	key, err := localKey(mediaID)
	if err != nil {
		return Media{}, err
	}
	var m Media
	var legacy []byte
	var hasLegacy bool
	err = s.db.QueryRow(ctx, `SELECT content_type, filename, legacy_data IS NOT NULL, legacy_data FROM media WHERE media_id = ?`, mediaID).
		Scan(&m.ContentType, &m.FileName, &hasLegacy, &legacy)
	if errors.Is(err, sql.ErrNoRows) {
		waiting, err := s.pending(ctx, mediaID)
		if err != nil {
			return Media{}, err
		}
		if waiting {
			return Media{}, fmt.Errorf("%w: %s", ErrNotYetUploaded, mediaID)
		}
		return Media{}, fmt.Errorf("%w: %s", ErrNotFound, mediaID)
	}
	if err != nil {
		return Media{}, fmt.Errorf("load media %s: %w", mediaID, err)
	}
	if hasLegacy { // not yet moved by Recover
		m.Data = legacy
		return m, nil
	}
	if m.Data, err = s.blobs.Get(ctx, key); err != nil {
		return Media{}, fmt.Errorf("load media %s: %w", mediaID, err)
	}
	return m, nil
}

// Delete removes a file of this server: its row, then its bytes.
func (s *Store) Delete(ctx context.Context, mediaID string) error {
	key, err := localKey(mediaID)
	if err != nil {
		return err
	}
	// Recover's move of a legacy file would otherwise bring the blob back.
	s.putting.RLock()
	defer s.putting.RUnlock()
	var deleted int64
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM media WHERE media_id = ?`, mediaID)
		if err != nil {
			return err
		}
		deleted, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return fmt.Errorf("delete media %s: %w", mediaID, err)
	}
	if deleted == 0 {
		return fmt.Errorf("%w: %s", ErrNotFound, mediaID)
	}
	return s.blobs.Delete(ctx, key)
}

// deleteBlob removes a blob whose row is gone or never came; a failure only
// leaves an orphan for Recover, so it is logged, not returned.
func (s *Store) deleteBlob(ctx context.Context, key string) {
	if err := s.blobs.Delete(context.WithoutCancel(ctx), key); err != nil {
		logrus.WithError(err).WithField("key", key).Warn("media: blob left for the next start-up's sweep")
	}
}

// limitedReader yields at most left bytes of r, then fails with ErrTooLarge:
// an upload is refused while it streams, not after it was stored.
type limitedReader struct {
	r    io.Reader
	left int64
}

func (l *limitedReader) Read(p []byte) (int, error) {
	// One byte past the limit tells "too large" from "exactly the limit".
	if int64(len(p)) > l.left+1 {
		p = p[:l.left+1]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	if l.left < 0 {
		return 0, fmt.Errorf("%w: over the limit", ErrTooLarge)
	}
	return n, err
}
