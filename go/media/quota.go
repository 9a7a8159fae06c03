package media

import (
	"context"
	"fmt"
)

// reserve counts n more bytes against QuotaBytes for a Put about to start,
// evicting cached remote media (least recently used first) to make room; the
// returned func gives the bytes back once the Put's row is committed (from
// then on the row's size counts) or the Put failed. Without room even with
// the cache empty: ErrStoreFull.
func (s *Store) reserve(ctx context.Context, n int64) (release func(), err error) {
	s.quotaMu.Lock()
	defer s.quotaMu.Unlock()
	used, err := s.usedBytes(ctx)
	if err != nil {
		return nil, err
	}
	if over := used + s.reserved + n - s.opts.QuotaBytes; over > 0 {
		freed, err := s.evictRemote(ctx, over)
		if err != nil {
			return nil, err
		}
		if freed < over {
			return nil, fmt.Errorf("%w: %d bytes stored or being stored, %d more do not fit in %d",
				ErrStoreFull, used-freed+s.reserved, n, s.opts.QuotaBytes)
		}
	}
	s.reserved += n
	return func() {
		s.quotaMu.Lock()
		defer s.quotaMu.Unlock()
		s.reserved -= n
	}, nil
}

// usedBytes is the size of every blob with a row, uploads and cache.
func (s *Store) usedBytes(ctx context.Context) (int64, error) {
	var used int64
	err := s.db.QueryRow(ctx, `SELECT (SELECT COALESCE(SUM(size), 0) FROM media) + (SELECT COALESCE(SUM(size), 0) FROM remote_media)`).Scan(&used)
	if err != nil {
		return 0, fmt.Errorf("sum media sizes: %w", err)
	}
	return used, nil
}
