package media

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
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
