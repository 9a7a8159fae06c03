package storage

import (
	"context"
	"database/sql"
	"path/filepath"
	"runtime"
	"testing"
)

// databaseAtVersion opens a native database file migrated only up to
// version and writes rows as that version's code did, for tests of the next
// migrations: they migrate it further, or close it and Open its path. A
// wasm test binary has one sql.js database, already migrated: it skips.
func databaseAtVersion(t *testing.T, version int, rows ...string) (db *DB, path string) {
	t.Helper()
	if runtime.GOOS == "js" {
		t.Skip("a wasm test binary has one sql.js database, so each version needs a native file")
	}
	ctx := context.Background()
	path = filepath.Join(t.TempDir(), "hearth.db")
	db, err := OpenAtVersion(ctx, path, version)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Write(ctx, func(tx *sql.Tx) error {
		for _, q := range rows {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		t.Fatal(err)
	}
	return db, path
}
