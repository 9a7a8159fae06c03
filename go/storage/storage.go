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
	"sync/atomic"
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
//
// Natively, writes that queue up share a commit (group commit, see Write):
// the commit's fsync, not the statements, was most of a write's time, so
// eight users sending at once waited on each other's fsyncs.
type DB struct {
	sql *sql.DB
	// writer is a one-slot semaphore: holding its token is holding the write lock.
	// A channel rather than a mutex so that waiting honours the context.
	writer chan struct{}
	// waiting counts writers waiting for the token: the holder leaves the
	// batch open for them instead of committing it.
	waiting atomic.Int32
	// batch is the open transaction writers are adding to, or nil; only the
	// token's holder touches it.
	batch *writeBatch
	// commits counts transactions committed (tests see writes share them)
	commits atomic.Int64
}

// writeBatch is one transaction shared by writers whose writes queued up:
// each runs in a savepoint of its own, and the last one commits for all.
type writeBatch struct {
	tx     *sql.Tx
	writes int           // writes in it that succeeded
	done   chan struct{} // closed once committed or lost
	err    error         // why it was not committed, once done is closed
}

// testHookHandingOn, when set (tests), runs as a writer has decided to leave
// its batch to the next writer and before it releases the token.
var testHookHandingOn func()

// maxBatchWrites bounds how many writes share one commit, so that the first
// one's wait for the commit stays short under a steady queue.
const maxBatchWrites = 32

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
//
// With group commit (natively), fn runs in a savepoint of a transaction
// other writes may share: a failing fn rolls back to its savepoint only. A
// writer that finishes while others wait leaves the transaction open for
// them and waits for its commit; the writer that finds nobody waiting (or
// the batch full) commits for all. Write returns nil only once that commit
// is durable, as before.
func (db *DB) Write(ctx context.Context, fn func(tx *sql.Tx) error) (err error) {
	db.waiting.Add(1)
	select {
	case db.writer <- struct{}{}:
		db.waiting.Add(-1)
	case <-ctx.Done():
		db.waiting.Add(-1)
		db.closeAbandonedBatch()
		return fmt.Errorf("wait for the writer: %w", ctx.Err())
	}
	if !groupCommit {
		defer func() { <-db.writer }()
		return db.writeAlone(ctx, fn)
	}
	return db.writeInBatch(ctx, fn)
}

// writeAlone is Write without group commit: a transaction of fn's own.
func (db *DB) writeAlone(ctx context.Context, fn func(tx *sql.Tx) error) error {
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
	db.commits.Add(1)
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", classify(err))
	}
	return nil
}

// writeInBatch runs fn in the open batch (holding the token) and then hands
// the batch on or commits it; it releases the token.
func (db *DB) writeInBatch(ctx context.Context, fn func(tx *sql.Tx) error) error {
	b := db.batch
	if b == nil {
		// Not the writer's context: the transaction outlives this writer when
		// it hands the batch on, and database/sql rolls back on cancellation.
		tx, err := db.sql.BeginTx(context.WithoutCancel(ctx), nil)
		if err != nil {
			<-db.writer
			return fmt.Errorf("begin transaction: %w", err)
		}
		b = &writeBatch{tx: tx, done: make(chan struct{})}
		db.batch = b
	}
	fnErr := db.runInSavepoint(ctx, b, fn)
	if b.err != nil {
		// The transaction itself is gone (SQLite rolls it all back when a
		// statement in it is interrupted): the writes handed on are lost too.
		db.batch = nil
		_ = b.tx.Rollback() // returns the connection; the transaction is already undone
		close(b.done)
		<-db.writer
		return errors.Join(fnErr, b.err)
	}
	if fnErr == nil {
		b.writes++
	}
	if b.writes == 0 {
		db.batch = nil
		err := b.tx.Rollback()
		close(b.done)
		<-db.writer
		if err != nil && !errors.Is(err, sql.ErrTxDone) {
			return errors.Join(fnErr, fmt.Errorf("roll back: %w", err))
		}
		return fnErr
	}
	if db.waiting.Load() > 0 && b.writes < maxBatchWrites {
		if testHookHandingOn != nil {
			testHookHandingOn()
		}
		<-db.writer // the next writer adds to the batch and commits it, or hands it on
		if fnErr != nil {
			return fnErr
		}
		<-b.done
		return b.err
	}
	db.commitBatch(b)
	<-db.writer
	if fnErr != nil {
		return fnErr
	}
	return b.err
}

// runInSavepoint runs fn inside a savepoint of b, rolled back to if fn fails.
// It sets b.err when the transaction itself is lost. The first write of a
// batch needs none (a failure rolls back the whole transaction, its alone):
// a writer nobody queued behind pays no savepoint statements.
func (db *DB) runInSavepoint(ctx context.Context, b *writeBatch, fn func(tx *sql.Tx) error) error {
	if b.writes == 0 {
		return classify(fn(b.tx))
	}
	// The savepoint statements run whatever the writer's context: they keep the batch whole.
	bctx := context.WithoutCancel(ctx)
	if _, err := b.tx.ExecContext(bctx, `SAVEPOINT write`); err != nil {
		b.err = fmt.Errorf("open a savepoint: %w", classify(err))
		return b.err
	}
	if err := fn(b.tx); err != nil {
		if _, rbErr := b.tx.ExecContext(bctx, `ROLLBACK TO write`); rbErr != nil {
			b.err = fmt.Errorf("the shared transaction was lost: %w", rbErr)
		} else if _, relErr := b.tx.ExecContext(bctx, `RELEASE write`); relErr != nil {
			b.err = fmt.Errorf("the shared transaction was lost: %w", relErr)
		}
		return classify(err)
	}
	if _, err := b.tx.ExecContext(bctx, `RELEASE write`); err != nil {
		b.err = fmt.Errorf("the shared transaction was lost: %w", err)
		return b.err
	}
	return nil
}

// commitBatch commits b for all its writers (holding the token).
func (db *DB) commitBatch(b *writeBatch) {
	db.commits.Add(1)
	db.batch = nil
	if err := b.tx.Commit(); err != nil {
		b.err = fmt.Errorf("commit: %w", classify(err))
	}
	close(b.done)
}

// closeAbandonedBatch: a writer that stopped waiting may have been the one a
// batch was left open for. It takes the token anyway (the holder is running a
// write and releases it soon) and commits the batch if nobody else waits.
func (db *DB) closeAbandonedBatch() {
	if !groupCommit {
		return
	}
	db.writer <- struct{}{}
	if b := db.batch; b != nil && db.waiting.Load() == 0 {
		db.commitBatch(b)
	}
	<-db.writer
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

// GiveBackFreedPages makes the database shrink when its rows do: SQLite
// otherwise keeps freed pages in the file for later writes. With
// auto_vacuum=FULL each commit gives them back. This matters where the file
// is held in memory whole and read whole at start (sql.js in the browser),
// once old events leave it (go/room cold_events.go). Switching a database
// that has tables rewrites it once (VACUUM, a pause that grows with its
// size), as the SQLite documentation requires. Call it before anything else
// writes.
func (db *DB) GiveBackFreedPages(ctx context.Context) error {
	var mode int
	if err := db.QueryRow(ctx, `PRAGMA auto_vacuum`).Scan(&mode); err != nil {
		return fmt.Errorf("read auto_vacuum: %w", err)
	}
	const full = 1
	if mode == full {
		return nil
	}
	select {
	case db.writer <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("wait for the writer: %w", ctx.Err())
	}
	defer func() { <-db.writer }()
	// One script: VACUUM cannot run in a transaction, and the mode must be
	// set in the same run that rewrites the file (sql.js journals the pair).
	if _, err := db.sql.ExecContext(ctx, `PRAGMA auto_vacuum = FULL; VACUUM`); err != nil {
		return fmt.Errorf("switch the database to auto_vacuum: %w", err)
	}
	return nil
}
