// Package accountdata keeps each user's account data: JSON objects by type,
// global or per room (client-server API, "Client Config"), ordered in the
// data stream so /sync can report what changed.
package accountdata

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/matrix-org/gomatrixserverlib/spec"

	"hearth/go/pushrules"
	"hearth/go/storage"
)

// ErrNotFound means the user has no account data of that type.
var ErrNotFound = errors.New("account data not found")

// Store is the account data of every local user.
type Store struct {
	db *storage.DB
	// advanced is told the new data-stream position after each commit.
	advanced func(int64)
	// rules caches decoded push rules (pushrules.go).
	rules *ruleCache
}

// New returns the store; advanced (may be nil) wakes /sync after writes.
func New(db *storage.DB, advanced func(int64)) *Store {
	if advanced == nil {
		advanced = func(int64) {}
	}
	return &Store{db: db, advanced: advanced, rules: newRuleCache()}
}

// Event is one piece of account data; RoomID is "" for global data.
type Event struct {
	RoomID  string
	Type    string
	Content json.RawMessage
	Pos     int64
}

// Put stores content (a JSON object) for user under type, globally when
// roomID is "".
func (s *Store) Put(ctx context.Context, user spec.UserID, roomID, evType string, content json.RawMessage) error {
	var pos int64
	err := s.db.Write(ctx, func(tx *sql.Tx) error {
		var err error
		pos, err = s.putTx(ctx, tx, user, roomID, evType, content)
		return err
	})
	if err == nil {
		s.advanced(pos)
	}
	return err
}

// Update replaces one piece of account data with edit(current) in a single
// write, so two concurrent edits cannot lose one another. current is nil when
// there is none yet; an error from edit changes nothing and is returned.
func (s *Store) Update(ctx context.Context, user spec.UserID, roomID, evType string, edit func(current json.RawMessage) (json.RawMessage, error)) error {
	var pos int64
	err := s.db.Write(ctx, func(tx *sql.Tx) error {
		var current []byte
		err := tx.QueryRowContext(ctx, `SELECT content FROM account_data WHERE user_id = ? AND room_id = ? AND type = ?`,
			user.String(), roomID, evType).Scan(&current)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("read account data %s: %w", evType, err)
		}
		next, err := edit(current)
		if err != nil {
			return err
		}
		pos, err = s.putTx(ctx, tx, user, roomID, evType, next)
		return err
	})
	if err == nil {
		s.advanced(pos)
	}
	return err
}

// putTx stores account data inside a write; the caller announces the
// returned position once committed. It is the only writer of account data:
// the push rules cache relies on it.
func (s *Store) putTx(ctx context.Context, tx *sql.Tx, user spec.UserID, roomID, evType string, content json.RawMessage) (int64, error) {
	if roomID == "" && evType == pushrules.AccountDataType {
		s.rules.forget(user.String())
	}
	pos, err := storage.NextDataPos(ctx, tx, "account_data")
	if err != nil {
		return 0, err
	}
	_, err = tx.ExecContext(ctx,
		`INSERT INTO account_data (user_id, room_id, type, content, stream_pos) VALUES (?, ?, ?, ?, ?)
		 ON CONFLICT (user_id, room_id, type) DO UPDATE SET content = excluded.content, stream_pos = excluded.stream_pos`,
		user.String(), roomID, evType, []byte(content), pos)
	if err != nil {
		return 0, fmt.Errorf("store account data %s: %w", evType, err)
	}
	return pos, nil
}

// Get returns one piece of account data, or ErrNotFound.
func (s *Store) Get(ctx context.Context, user spec.UserID, roomID, evType string) (json.RawMessage, error) {
	var content []byte
	err := s.db.QueryRow(ctx, `SELECT content FROM account_data WHERE user_id = ? AND room_id = ? AND type = ?`,
		user.String(), roomID, evType).Scan(&content)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, evType)
	}
	if err != nil {
		return nil, fmt.Errorf("load account data %s: %w", evType, err)
	}
	return content, nil
}

// Since returns the user's account data written in (after, upTo] of the data
// stream, oldest first; after 0 gives all of it.
func (s *Store) Since(ctx context.Context, user spec.UserID, after, upTo int64) ([]Event, error) {
	if after >= upTo { // an empty range: a sync woken by new events asks it every time
		return nil, nil
	}
	rows, err := s.db.Query(ctx,
		`SELECT room_id, type, content, stream_pos FROM account_data
		 WHERE user_id = ? AND stream_pos > ? AND stream_pos <= ? ORDER BY stream_pos`, user.String(), after, upTo)
	if err != nil {
		return nil, fmt.Errorf("load account data: %w", err)
	}
	defer rows.Close()
	var out []Event
	for rows.Next() {
		var ev Event
		if err := rows.Scan(&ev.RoomID, &ev.Type, &ev.Content, &ev.Pos); err != nil {
			return nil, fmt.Errorf("load account data: %w", err)
		}
		out = append(out, ev)
	}
	return out, rows.Err()
}
