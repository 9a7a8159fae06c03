// Package media stores uploaded files in the server's database (SQLite, in
// the browser too) and serves them by mxc:// URI (client-server API,
// "Content repository").
//
// Media of other servers is federation's to fetch: Options.FetchRemote is
// its hook (GET /_matrix/federation/v1/media/download/{mediaId}); without it
// remote media is ErrNotFound.
package media

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/matrix-org/gomatrixserverlib/spec"

	"hearth/go/storage"
)

// Sentinel errors; the client API maps each to a Matrix errcode.
var (
	ErrNotFound = errors.New("media not found")
	ErrTooLarge = errors.New("media too large")
)

// DefaultMaxBytes caps one upload: the whole file sits in the database, and
// in the browser in memory too.
const DefaultMaxBytes = 10 << 20

// Media is one stored file.
type Media struct {
	ContentType string
	FileName    string
	Data        []byte
}

// Options configure Store; zero values mean production defaults.
type Options struct {
	MaxBytes int64            // 0: DefaultMaxBytes
	Now      func() time.Time // nil: time.Now
	Random   io.Reader        // nil: crypto/rand
	// FetchRemote fetches media of another server; nil: remote media is not
	// found. Get caches what it returns (at most MaxBytes); it should return
	// ErrNotFound wrapped when the other server has no such media.
	FetchRemote func(ctx context.Context, server spec.ServerName, mediaID string) (Media, error)
}

// Store is the media repository of one server.
type Store struct {
	db     *storage.DB
	server spec.ServerName
	opts   Options
	thumbs *thumbCache // thumbnails made, by media, box and method (thumbnail.go)
}

// New returns the media store of the server named server.
func New(db *storage.DB, server spec.ServerName, opts Options) *Store {
	if opts.MaxBytes == 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Random == nil {
		opts.Random = rand.Reader
	}
	return &Store{db: db, server: server, opts: opts, thumbs: newThumbCache(thumbnailCacheBytes)}
}

// MaxBytes is the largest upload accepted.
func (s *Store) MaxBytes() int64 { return s.opts.MaxBytes }

// Upload stores a file and returns its mxc:// URI.
func (s *Store) Upload(ctx context.Context, uploader spec.UserID, contentType, fileName string, data []byte) (string, error) {
	if int64(len(data)) > s.opts.MaxBytes {
		return "", fmt.Errorf("%w: %d bytes, at most %d", ErrTooLarge, len(data), s.opts.MaxBytes)
	}
	if contentType == "" {
		contentType = "application/octet-stream"
	}
	b := make([]byte, 18)
	if _, err := io.ReadFull(s.opts.Random, b); err != nil {
		return "", fmt.Errorf("make media ID: %w", err)
	}
	mediaID := base64.RawURLEncoding.EncodeToString(b)
	err := s.db.Write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx,
			`INSERT INTO media (media_id, content_type, filename, uploader, created_ts, data) VALUES (?, ?, ?, ?, ?, ?)`,
			mediaID, contentType, fileName, uploader.String(), s.opts.Now().UnixMilli(), data)
		if err != nil {
			return fmt.Errorf("store media: %w", err)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	return "mxc://" + string(s.server) + "/" + mediaID, nil
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
	var m Media
	err := s.db.QueryRow(ctx, `SELECT content_type, filename, data FROM media WHERE media_id = ?`, mediaID).
		Scan(&m.ContentType, &m.FileName, &m.Data)
	if errors.Is(err, sql.ErrNoRows) {
		return Media{}, fmt.Errorf("%w: %s", ErrNotFound, mediaID)
	}
	if err != nil {
		return Media{}, fmt.Errorf("load media %s: %w", mediaID, err)
	}
	return m, nil
}

func (s *Store) getRemote(ctx context.Context, server spec.ServerName, mediaID string) (Media, error) {
	var m Media
	err := s.db.QueryRow(ctx, `SELECT content_type, filename, data FROM remote_media WHERE server_name = ? AND media_id = ?`,
		string(server), mediaID).Scan(&m.ContentType, &m.FileName, &m.Data)
	if err == nil {
		return m, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return Media{}, fmt.Errorf("load cached media %s/%s: %w", server, mediaID, err)
	}
	if s.opts.FetchRemote == nil {
		return Media{}, fmt.Errorf("%w: %s/%s is another server's and remote media is not fetched", ErrNotFound, server, mediaID)
	}
	m, err = s.opts.FetchRemote(ctx, server, mediaID)
	if err != nil {
		return Media{}, err
	}
	if int64(len(m.Data)) > s.opts.MaxBytes {
		return Media{}, fmt.Errorf("%w: %s/%s is %d bytes, at most %d", ErrTooLarge, server, mediaID, len(m.Data), s.opts.MaxBytes)
	}
	if m.ContentType == "" {
		m.ContentType = "application/octet-stream"
	}
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx,
			`INSERT INTO remote_media (server_name, media_id, content_type, filename, fetched_ts, data) VALUES (?, ?, ?, ?, ?, ?)
			 ON CONFLICT DO NOTHING`,
			string(server), mediaID, m.ContentType, m.FileName, s.opts.Now().UnixMilli(), m.Data)
		return err
	})
	if err != nil {
		return Media{}, fmt.Errorf("cache media %s/%s: %w", server, mediaID, err)
	}
	return m, nil
}
