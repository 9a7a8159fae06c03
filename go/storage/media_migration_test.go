package storage

import (
	"context"
	"database/sql"
	"path/filepath"
	"runtime"
	"testing"
)

// Migration 6 keeps uploads' bytes in legacy_data (package media moves them
// out at start-up) with their size, and empties the remote media cache.
func TestMigrationMovesMediaBytesAside(t *testing.T) {
	if runtime.GOOS == "js" {
		t.Skip("a wasm test binary has one sql.js database (hearthStorage), already migrated")
	}
	ctx := context.Background()
	sqlDB, err := openSQLite(filepath.Join(t.TempDir(), "hearth.db"))
	if err != nil {
		t.Fatal(err)
	}
	db := &DB{sql: sqlDB, writer: make(chan struct{}, 1)}
	defer db.Close()
	const beforeBlobStore = 6
	if err := db.migrateTo(ctx, beforeBlobStore); err != nil {
		t.Fatal(err)
	}
	err = db.Write(ctx, func(tx *sql.Tx) error {
		for _, q := range []string{
			`INSERT INTO media (media_id, content_type, filename, uploader, created_ts, data) VALUES ('m1', 'image/png', 'a.png', '@a:x', 7, X'0102030405')`,
			`INSERT INTO remote_media (server_name, media_id, content_type, fetched_ts, data) VALUES ('y', 'r1', 'image/png', 8, X'01')`,
		} {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.migrate(ctx); err != nil {
		t.Fatal(err)
	}
	var size, created int64
	var legacy []byte
	if err := db.QueryRow(ctx, `SELECT size, created_ts, legacy_data FROM media WHERE media_id = 'm1'`).Scan(&size, &created, &legacy); err != nil {
		t.Fatal(err)
	}
	if size != 5 || created != 7 || len(legacy) != 5 {
		t.Fatalf("migrated row: size %d, created %d, %d legacy bytes", size, created, len(legacy))
	}
	var cached int
	db.QueryRow(ctx, `SELECT COUNT(*) FROM remote_media`).Scan(&cached)
	if cached != 0 {
		t.Fatalf("%d cached rows survived without their bytes", cached)
	}
}
