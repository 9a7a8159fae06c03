package storage

import (
	"context"
	"testing"
)

// Migration 6 keeps uploads' bytes in legacy_data (package media moves them
// out at start-up) with their size, and empties the remote media cache.
func TestMigrationMovesMediaBytesAside(t *testing.T) {
	ctx := context.Background()
	const beforeBlobStore = 6
	db, _ := databaseAtVersion(t, beforeBlobStore,
		`INSERT INTO media (media_id, content_type, filename, uploader, created_ts, data) VALUES ('m1', 'image/png', 'a.png', '@a:x', 7, X'0102030405')`,
		`INSERT INTO remote_media (server_name, media_id, content_type, fetched_ts, data) VALUES ('y', 'r1', 'image/png', 8, X'01')`,
	)
	defer db.Close()
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
