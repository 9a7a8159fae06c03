package media

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
)

// Recover brings the blobs and the rows into agreement, once at start-up. It
// may run while the store serves: uploads and cache fills wait for it, and
// it for those in flight.
//
//  1. Bytes from before the blob store (migration 7 kept them in
//     media.legacy_data) move out: Put, then the column is cleared, one file
//     per commit. A crash between leaves the bytes in both places; the next
//     start puts them again. Until moved, GetLocal serves them from the row.
//  2. Orphans go: blobs no row names, left by a crash between a blob's Put
//     and its row's commit, or between a row's deletion and its blob's.
//
// It returns how many of each it handled.
func (s *Store) Recover(ctx context.Context) (moved, swept int, err error) {
	s.putting.Lock()
	defer s.putting.Unlock()
	if moved, err = s.moveLegacy(ctx); err != nil {
		return moved, 0, err
	}
	swept, err = s.sweep(ctx)
	return moved, swept, err
}

func (s *Store) moveLegacy(ctx context.Context) (int, error) {
	var ids []string
	rows, err := s.db.Query(ctx, `SELECT media_id FROM media WHERE legacy_data IS NOT NULL`)
	if err != nil {
		return 0, fmt.Errorf("list media to move: %w", err)
	}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return 0, fmt.Errorf("list media to move: %w", err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("list media to move: %w", err)
	}
	for i, id := range ids {
		if err := s.moveOne(ctx, id); err != nil {
			return i, err
		}
	}
	return len(ids), nil
}

func (s *Store) moveOne(ctx context.Context, mediaID string) error {
	key, err := localKey(mediaID)
	if err != nil {
		return fmt.Errorf("move media %q: %w", mediaID, err)
	}
	var data []byte
	if err := s.db.QueryRow(ctx, `SELECT legacy_data FROM media WHERE media_id = ?`, mediaID).Scan(&data); err != nil {
		return fmt.Errorf("load media %s to move: %w", mediaID, err)
	}
	if _, err := s.blobs.Put(ctx, key, bytes.NewReader(data), int64(len(data))); err != nil {
		return fmt.Errorf("move media %s: %w", mediaID, err)
	}
	return s.db.Write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE media SET legacy_data = NULL WHERE media_id = ?`, mediaID)
		if err != nil {
			return fmt.Errorf("clear moved media %s: %w", mediaID, err)
		}
		return nil
	})
}

func (s *Store) sweep(ctx context.Context) (int, error) {
	// Media's keys only: listing the events' (EventBlobs) too would cost
	// every start a key per old message.
	var keys []string
	for _, prefix := range []string{localPrefix, remotePrefix} {
		some, err := s.blobs.Keys(ctx, prefix)
		if err != nil {
			return 0, fmt.Errorf("sweep blobs: %w", err)
		}
		keys = append(keys, some...)
	}
	named, err := s.namedKeys(ctx)
	if err != nil {
		return 0, err
	}
	swept := 0
	for _, key := range keys {
		if _, ok := named[key]; ok {
			continue
		}
		if err := s.blobs.Delete(ctx, key); err != nil {
			return swept, fmt.Errorf("sweep blobs: %w", err)
		}
		swept++
	}
	return swept, nil
}

// namedKeys is the key of every row, uploads and cache.
func (s *Store) namedKeys(ctx context.Context) (map[string]struct{}, error) {
	rows, err := s.db.Query(ctx, `SELECT ? || media_id FROM media UNION ALL SELECT ? || server_name || '/' || media_id FROM remote_media`,
		localPrefix, remotePrefix)
	if err != nil {
		return nil, fmt.Errorf("list media keys: %w", err)
	}
	defer rows.Close()
	named := map[string]struct{}{}
	for rows.Next() {
		var key string
		if err := rows.Scan(&key); err != nil {
			return nil, fmt.Errorf("list media keys: %w", err)
		}
		named[key] = struct{}{}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list media keys: %w", err)
	}
	return named, nil
}
