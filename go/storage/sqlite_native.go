//go:build !js

package storage

import (
	"database/sql"
	"errors"
	"fmt"
	"net/url"

	"modernc.org/sqlite"
)

// fullTextModule is the SQLite full-text search module of this build:
// modernc.org/sqlite has FTS5 and not FTS4. Hearth uses only what both have
// (MATCH over a body column with rowid, quoted terms), so either serves.
const fullTextModule = "fts5"

// fullTextExternalContent makes a full-text table read its content from the
// view event_search_bodies (migration 20) instead of keeping a copy.
const fullTextExternalContent = "content='event_search_bodies', content_rowid='rowid'"

// groupCommit: writes that queue up share a commit (DB.Write). Natively each
// commit is an fsync (synchronous=FULL): 8 users sending at once spent most
// of the write lock's time in them.
const groupCommit = true

// maxIdleConns is how many open connections the pool keeps between uses.
// database/sql's default, 2, made each burst of concurrent requests (8
// senders: 8 token lookups beside the write) open connections and close
// them again: each new connection opened the file, read the schema and
// prepared its statements anew (stmtcache.go), 5 % of the CPU in
// hearth-bench's 8-senders profile. An idle connection costs its page cache
// (at most 2 MB, SQLite's default).
const maxIdleConns = 16

// openSQLite opens a file database natively. WAL lets reads run while the
// single writer works; foreign keys are enforced and temporary data kept in
// memory as in sql.js. Connections
// keep their prepared statements (stmtcache.go).
func openSQLite(path string) (*sql.DB, error) {
	q := url.Values{}
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)") // acknowledged means on disk
	q.Add("_pragma", "foreign_keys(ON)")
	// Statement journals (a statement writing several rows inside a
	// transaction keeps one to undo itself alone) and temporary tables stay
	// in memory: in a file, storing one event's notifications for 7 users in
	// one statement wrote its undo pages with a syscall each, 11 % of the
	// 8-senders CPU. Durability is the WAL's, unchanged.
	q.Add("_pragma", "temp_store(MEMORY)")
	q.Set("_txlock", "immediate")
	db := sql.OpenDB(stmtConnector{driver: &sqlite.Driver{}, dsn: "file:" + path + "?" + q.Encode()})
	db.SetMaxIdleConns(maxIdleConns)
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	return db, nil
}

// sqliteFull is SQLITE_FULL, the primary result code for a full disk.
const sqliteFull = 13

// classify marks a full disk as ErrFull.
func classify(err error) error {
	var e *sqlite.Error
	if errors.As(err, &e) && e.Code()&0xff == sqliteFull {
		return fmt.Errorf("%w: %w", ErrFull, err)
	}
	return err
}
