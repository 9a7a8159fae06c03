package media

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/matrix-org/gomatrixserverlib/spec"
	"github.com/sirupsen/logrus"
)

// Asynchronous uploads (client-server API v1.11, "POST
// /_matrix/media/v1/create" and "PUT
// /_matrix/media/v3/upload/{serverName}/{mediaId}"): an mxc:// URI handed
// out first, its bytes uploaded once, by its creator, before it expires.

// Limits of IDs created ahead of their upload.
const (
	// PendingLifetime is how long a created ID waits for its upload.
	PendingLifetime = 24 * time.Hour
	// MaxPendingPerUser caps the IDs one user holds not yet uploaded.
	MaxPendingPerUser = 50
	// DefaultUploadWait is how long a download of a created ID waits for its
	// upload when the client names no timeout_ms (the spec's default), and
	// MaxUploadWait the most it waits whatever the client asks: a service
	// worker must answer well before the browser stops it (Firefox: ~30 s idle).
	DefaultUploadWait = 20 * time.Second
	MaxUploadWait     = 20 * time.Second
)

// Create hands out the URI of a file to upload later and when it expires.
func (s *Store) Create(ctx context.Context, creator spec.UserID) (string, time.Time, error) {
	mediaID, err := s.newMediaID()
	if err != nil {
		return "", time.Time{}, err
	}
	now := s.opts.Now()
	expires := now.Add(PendingLifetime)
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM pending_media WHERE expires_ts <= ?`, now.UnixMilli()); err != nil {
			return fmt.Errorf("drop expired media IDs: %w", err)
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM pending_media WHERE uploader = ?`, creator.String()).Scan(&n); err != nil {
			return fmt.Errorf("count media IDs: %w", err)
		}
		if n >= MaxPendingPerUser {
			return fmt.Errorf("%w: %d", ErrTooManyPending, n)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO pending_media (media_id, uploader, expires_ts) VALUES (?, ?, ?)`,
			mediaID, creator.String(), expires.UnixMilli()); err != nil {
			return fmt.Errorf("create media ID: %w", err)
		}
		return nil
	})
	return s.uri(mediaID), expires, err
}

// UploadCreated stores the bytes of a created ID. The upload first claims
// the ID, so two uploads of one ID cannot both write its bytes.
func (s *Store) UploadCreated(ctx context.Context, uploader spec.UserID, mediaID, contentType, fileName string, body io.Reader, size int64) error {
	if err := s.claim(ctx, uploader, mediaID); err != nil {
		return err
	}
	err := s.store(ctx, uploader, mediaID, contentType, fileName, body, size, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM pending_media WHERE media_id = ?`, mediaID); err != nil {
			return fmt.Errorf("settle media ID: %w", err)
		}
		return nil
	})
	if err == nil {
		s.uploads.uploaded(mediaID)
	}
	if err != nil {
		// Give the ID back, so the upload can be tried again.
		if werr := s.db.Write(ctx, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `UPDATE pending_media SET uploading = 0 WHERE media_id = ?`, mediaID)
			return err
		}); werr != nil {
			logrus.WithError(werr).WithField("media_id", mediaID).Warn("media: ID stays claimed after a failed upload")
		}
	}
	return err
}

// claim marks a created ID as being uploaded by its creator.
func (s *Store) claim(ctx context.Context, uploader spec.UserID, mediaID string) error {
	return s.db.Write(ctx, func(tx *sql.Tx) error {
		var creator string
		var expires int64
		var uploading bool
		err := tx.QueryRowContext(ctx, `SELECT uploader, expires_ts, uploading FROM pending_media WHERE media_id = ?`, mediaID).
			Scan(&creator, &expires, &uploading)
		if errors.Is(err, sql.ErrNoRows) {
			var uploaded bool
			if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM media WHERE media_id = ?)`, mediaID).Scan(&uploaded); err != nil {
				return fmt.Errorf("look up media %s: %w", mediaID, err)
			}
			if uploaded {
				return fmt.Errorf("%w: %s", ErrCannotOverwrite, mediaID)
			}
			return fmt.Errorf("%w: %s", ErrNotFound, mediaID)
		}
		if err != nil {
			return fmt.Errorf("look up media ID %s: %w", mediaID, err)
		}
		switch {
		case creator != uploader.String():
			return fmt.Errorf("%w: %s", ErrNotCreator, mediaID)
		case expires <= s.opts.Now().UnixMilli():
			return fmt.Errorf("%w: %s expired", ErrNotFound, mediaID)
		case uploading:
			return fmt.Errorf("%w: %s is being uploaded", ErrCannotOverwrite, mediaID)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE pending_media SET uploading = 1 WHERE media_id = ?`, mediaID); err != nil {
			return fmt.Errorf("claim media ID %s: %w", mediaID, err)
		}
		return nil
	})
}

// pending reports whether a local ID was created and waits for its upload.
func (s *Store) pending(ctx context.Context, mediaID string) (bool, error) {
	var waiting bool
	err := s.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pending_media WHERE media_id = ? AND expires_ts > ?)`,
		mediaID, s.opts.Now().UnixMilli()).Scan(&waiting)
	if err != nil {
		return false, fmt.Errorf("look up media ID %s: %w", mediaID, err)
	}
	return waiting, nil
}

// AwaitUpload waits, at most timeout (capped at MaxUploadWait), for the
// upload of a local ID created ahead of it (the download's timeout_ms). It
// returns nil at once when the ID is not waiting for an upload (uploaded,
// unknown or expired: the download says which), nil once the upload
// commits, and ErrNotYetUploaded when the time is up.
func (s *Store) AwaitUpload(ctx context.Context, mediaID string, timeout time.Duration) error {
	signal := s.uploads.watch(mediaID)
	defer s.uploads.unwatch(mediaID, signal)
	waiting, err := s.pending(ctx, mediaID)
	if err != nil || !waiting {
		return err
	}
	timer := time.NewTimer(min(timeout, MaxUploadWait))
	defer timer.Stop()
	select {
	case <-signal.done:
		return nil
	case <-timer.C:
		return fmt.Errorf("%w: %s", ErrNotYetUploaded, mediaID)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// uploadSignals tells downloads waiting for created IDs that their upload
// committed. An entry lives while someone watches it, so unknown IDs leave
// nothing behind.
type uploadSignals struct {
	mu      sync.Mutex // guards waiting
	waiting map[string]*uploadSignal
}

type uploadSignal struct {
	done     chan struct{} // closed once the upload commits
	watchers int
}

func (u *uploadSignals) watch(mediaID string) *uploadSignal {
	u.mu.Lock()
	defer u.mu.Unlock()
	sig := u.waiting[mediaID]
	if sig == nil {
		sig = &uploadSignal{done: make(chan struct{})}
		u.waiting[mediaID] = sig
	}
	sig.watchers++
	return sig
}

func (u *uploadSignals) unwatch(mediaID string, sig *uploadSignal) {
	u.mu.Lock()
	defer u.mu.Unlock()
	sig.watchers--
	if sig.watchers == 0 && u.waiting[mediaID] == sig {
		delete(u.waiting, mediaID)
	}
}

func (u *uploadSignals) uploaded(mediaID string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if sig := u.waiting[mediaID]; sig != nil {
		close(sig.done)
		delete(u.waiting, mediaID)
	}
}
