//go:build js

package storage

import (
	"database/sql"
	"errors"
	"fmt"

	"hearth/go/storage/sqljs"
)

// fullTextModule is the SQLite full-text search module of this build: the
// pinned sql.js has FTS4 and not FTS5.
const fullTextModule = "fts4"

// fullTextExternalContent makes a full-text table read its content from the
// view event_search_bodies (migration 20) instead of keeping a copy; FTS4
// reads it by rowid.
const fullTextExternalContent = "content='event_search_bodies'"

// groupCommit is off here: js/storage's journal replays every statement of
// a commit, savepoints included, and that has not been tested with them. A
// wasm write's commit also waits for IndexedDB off the Go thread.
const groupCommit = false

// openSQLite opens the database in hearthStorage (sql.js). path is ignored:
// in js/wasm, JS decides where the data lives (IndexedDB in a browser, files
// or memory under Node; see js/storage). sql.js is one connection, hence
// SetMaxOpenConns(1).
func openSQLite(path string) (*sql.DB, error) {
	_ = path
	c, err := sqljs.NewConnector()
	if err != nil {
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	db := sql.OpenDB(c)
	db.SetMaxOpenConns(1)
	return db, nil
}

// classify marks the browser's quota error as ErrFull.
func classify(err error) error {
	if errors.Is(err, sqljs.ErrQuotaExceeded) {
		return fmt.Errorf("%w: %w", ErrFull, err)
	}
	return err
}
