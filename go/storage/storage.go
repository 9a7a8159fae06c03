// Package storage is Hearth's one SQLite database: how it is opened on each
// platform, its schema migrations, and the single writer every write goes through.
//
// Natively the engine is modernc.org/sqlite (pure Go, no cgo); under js/wasm it
// is sql.js reached through the bridge (package storage/sqljs). Build tags pick
// openSQLite per platform, so nothing that cannot compile for js/wasm is imported there.
package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// DB is the database. Reads run on any goroutine through Query and QueryRow;
// every write runs inside Write, one at a time.
//
// Writes are serialised by design rather than retried: SQLite allows one writer,
// and queueing writers here is what makes "database is locked" impossible, with
// no busy timeout. The rule for callers: never call Write from inside a Write
// callback — the inner call waits for the outer one to finish and deadlocks.
//
// When Write returns nil the transaction is committed and durable (the sql.js
// driver persists before COMMIT returns), so a handler may acknowledge it.
type DB struct {
	sql *sql.DB
	// writer is a one-slot semaphore: holding its token is holding the write lock.
	// A channel rather than a mutex so that waiting honours the context.
	writer chan struct{}
}

// Open opens (creating if needed) the database at path and migrates it to the
// newest schema. In js/wasm the path is ignored: JS decides where data lives.
func Open(ctx context.Context, path string) (*DB, error) {
	sqlDB, err := openSQLite(path)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	db := &DB{sql: sqlDB, writer: make(chan struct{}, 1)}
	if err := db.migrate(ctx); err != nil {
		sqlDB.Close()
		return nil, err
	}
	return db, nil
}

// Close closes the database.
func (db *DB) Close() error { return db.sql.Close() }

// Query runs a read-only query.
func (db *DB) Query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return db.sql.QueryContext(ctx, query, args...)
}

// QueryRow runs a read-only query expected to return at most one row.
func (db *DB) QueryRow(ctx context.Context, query string, args ...any) *sql.Row {
	return db.sql.QueryRowContext(ctx, query, args...)
}

// Write runs fn in a transaction as the only writer, committing when fn
// returns nil and rolling back otherwise. See DB for the re-entry rule.
func (db *DB) Write(ctx context.Context, fn func(tx *sql.Tx) error) (err error) {
	select {
	case db.writer <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("wait for the writer: %w", ctx.Err())
	}
	defer func() { <-db.writer }()

	tx, err := db.sql.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	if err := fn(tx); err != nil {
		if rbErr := tx.Rollback(); rbErr != nil && !errors.Is(rbErr, sql.ErrTxDone) {
			return errors.Join(classify(err), fmt.Errorf("roll back: %w", rbErr))
		}
		return classify(err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", classify(err))
	}
	return nil
}

// NextDataPos takes the next position of the data stream inside a write:
// account data, receipts, key changes and to-device messages are ordered by
// it, and /sync tokens count in it. kind says what took it.
func NextDataPos(ctx context.Context, tx *sql.Tx, kind string) (int64, error) {
	res, err := tx.ExecContext(ctx, `INSERT INTO data_stream (kind) VALUES (?)`, kind)
	if err != nil {
		return 0, fmt.Errorf("take a data stream position: %w", err)
	}
	pos, err := res.LastInsertId()
	if err != nil {
		return 0, fmt.Errorf("take a data stream position: %w", err)
	}
	// Only the newest row matters (AUTOINCREMENT never reuses a position), so
	// the table stays one row long.
	if _, err := tx.ExecContext(ctx, `DELETE FROM data_stream WHERE pos < ?`, pos); err != nil {
		return 0, fmt.Errorf("trim the data stream: %w", err)
	}
	return pos, nil
}

// LatestDataPos returns the newest data stream position (0 when none).
func (db *DB) LatestDataPos(ctx context.Context) (int64, error) {
	var pos int64
	if err := db.QueryRow(ctx, `SELECT COALESCE(MAX(pos), 0) FROM data_stream`).Scan(&pos); err != nil {
		return 0, fmt.Errorf("read latest data stream position: %w", err)
	}
	return pos, nil
}

// QueryContext and QueryRowContext are Query and QueryRow under the names
// *sql.Tx uses, so read helpers can take either a DB or a write's transaction.
func (db *DB) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return db.Query(ctx, query, args...)
}

// QueryRowContext: see QueryContext.
func (db *DB) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	return db.QueryRow(ctx, query, args...)
}
