package media

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/matrix-org/gomatrixserverlib/spec"
	"github.com/sirupsen/logrus"
)

// The remote media cache: other servers' files, fetched through
// FetchRemote, kept in remote_media rows and remote/ blobs. Its bytes are
// bounded by RemoteCacheBytes and count against QuotaBytes too; when either
// is reached the least recently used files go first (an upload of our own
// also evicts cache before it is refused). A file over the bound is served
// and not cached.

// accessResolution is how stale a cached file's last_access_ts may get: a
// view writes it only when older, so looking at pictures is not a database
// commit each time, and LRU order is exact to within this.
const accessResolution = 10 * time.Minute

func (s *Store) getRemote(ctx context.Context, server spec.ServerName, mediaID string) (Media, error) {
	key, err := remoteKey(server, mediaID)
	if err != nil {
		return Media{}, err
	}
	m, found, err := s.cached(ctx, server, mediaID, key)
	if err != nil || found {
		return m, err
	}
	if s.opts.FetchRemote == nil {
		return Media{}, fmt.Errorf("%w: %s/%s is another server's and remote media is not fetched", ErrNotFound, server, mediaID)
	}
	m, err = s.opts.FetchRemote(ctx, server, mediaID, s.opts.MaxBytes)
	if err != nil {
		return Media{}, err
	}
	if int64(len(m.Data)) > s.opts.MaxBytes {
		return Media{}, fmt.Errorf("%w: %s/%s is %d bytes, at most %d", ErrTooLarge, server, mediaID, len(m.Data), s.opts.MaxBytes)
	}
	if m.ContentType == "" {
		m.ContentType = "application/octet-stream"
	}
	if err := s.cache(ctx, server, mediaID, key, m); err != nil {
		logrus.WithError(err).WithField("media", string(server)+"/"+mediaID).Warn("media: served without caching")
	}
	return m, nil
}

// cached returns a cached file (found false: not cached), and refreshes its
// last access.
func (s *Store) cached(ctx context.Context, server spec.ServerName, mediaID, key string) (m Media, found bool, err error) {
	var lastAccess int64
	err = s.db.QueryRow(ctx, `SELECT content_type, filename, last_access_ts FROM remote_media WHERE server_name = ? AND media_id = ?`,
		string(server), mediaID).Scan(&m.ContentType, &m.FileName, &lastAccess)
	if errors.Is(err, sql.ErrNoRows) {
		return Media{}, false, nil
	}
	if err != nil {
		return Media{}, false, fmt.Errorf("load cached media %s/%s: %w", server, mediaID, err)
	}
	m.Data, err = s.blobs.Get(ctx, key)
	if errors.Is(err, ErrNoBlob) { // only if the store was tampered with: fetch it again
		return Media{}, false, nil
	}
	if err != nil {
		return Media{}, false, fmt.Errorf("load cached media %s/%s: %w", server, mediaID, err)
	}
	now := s.opts.Now().UnixMilli()
	if now-lastAccess >= accessResolution.Milliseconds() {
		err := s.db.Write(ctx, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `UPDATE remote_media SET last_access_ts = ? WHERE server_name = ? AND media_id = ?`, now, string(server), mediaID)
			return err
		})
		if err != nil { // the file is here: serve it, at worst it is evicted early
			logrus.WithError(err).Warn("media: record cached file's last access")
		}
	}
	return m, true, nil
}

// cache stores a fetched file: blob first, then its row.
func (s *Store) cache(ctx context.Context, server spec.ServerName, mediaID, key string, m Media) error {
	n := int64(len(m.Data))
	if n > s.opts.RemoteCacheBytes {
		return fmt.Errorf("cache media: %d bytes, the cache holds %d", n, s.opts.RemoteCacheBytes)
	}
	s.putting.RLock()
	defer s.putting.RUnlock()
	release, err := s.reserve(ctx, n)
	if err != nil {
		return fmt.Errorf("cache media: %w", err)
	}
	defer release()
	s.cacheMu.Lock()
	defer s.cacheMu.Unlock()
	var cachedBytes int64
	if err := s.db.QueryRow(ctx, `SELECT COALESCE(SUM(size), 0) FROM remote_media`).Scan(&cachedBytes); err != nil {
		return fmt.Errorf("sum cached media: %w", err)
	}
	if over := cachedBytes + n - s.opts.RemoteCacheBytes; over > 0 {
		if _, err := s.evictRemoteLocked(ctx, over); err != nil {
			return err
		}
	}
	if _, err := s.blobs.Put(ctx, key, bytes.NewReader(m.Data), n); err != nil {
		return fmt.Errorf("cache media: %w", err)
	}
	now := s.opts.Now().UnixMilli()
	// On failure the blob stays: a concurrent fetch may have its row already
	// (same bytes: media never changes), and if not Recover sweeps it.
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx,
			`INSERT INTO remote_media (server_name, media_id, content_type, filename, fetched_ts, last_access_ts, size) VALUES (?, ?, ?, ?, ?, ?, ?)
			 ON CONFLICT (server_name, media_id) DO UPDATE SET last_access_ts = excluded.last_access_ts`,
			string(server), mediaID, m.ContentType, m.FileName, now, now, n)
		return err
	})
	if err != nil {
		return fmt.Errorf("cache media row: %w", err)
	}
	return nil
}

// evictRemote is evictRemoteLocked for callers not holding cacheMu.
func (s *Store) evictRemote(ctx context.Context, need int64) (int64, error) {
	s.cacheMu.Lock()
	defer s.cacheMu.Unlock()
	return s.evictRemoteLocked(ctx, need)
}

// evictRemoteLocked removes cached files, least recently used first, until
// need bytes are freed or the cache is empty, and returns the bytes freed.
// The rows go in one commit, then the blobs. cacheMu must be held.
func (s *Store) evictRemoteLocked(ctx context.Context, need int64) (int64, error) {
	type victim struct {
		server, mediaID string
	}
	var victims []victim
	var freed int64
	rows, err := s.db.Query(ctx, `SELECT server_name, media_id, size FROM remote_media ORDER BY last_access_ts, rowid`)
	if err != nil {
		return 0, fmt.Errorf("list cached media: %w", err)
	}
	for freed < need && rows.Next() {
		var v victim
		var size int64
		if err := rows.Scan(&v.server, &v.mediaID, &size); err != nil {
			rows.Close()
			return 0, fmt.Errorf("list cached media: %w", err)
		}
		victims = append(victims, v)
		freed += size
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("list cached media: %w", err)
	}
	if len(victims) == 0 {
		return 0, nil
	}
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		for _, v := range victims {
			if _, err := tx.ExecContext(ctx, `DELETE FROM remote_media WHERE server_name = ? AND media_id = ?`, v.server, v.mediaID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("evict cached media: %w", err)
	}
	for _, v := range victims {
		s.deleteBlob(ctx, remotePrefix+v.server+"/"+v.mediaID)
	}
	return freed, nil
}
