package storage

import (
	"context"
	"database/sql"
	"path/filepath"
	"runtime"
	"testing"
)

// Migration 17 rebuilds the full-text index over the events' JSON (no copy
// of the bodies): what migration 14 indexed stays findable, and the bodies
// are no longer stored a second time.
func TestMigrationIndexesBodiesWithoutACopy(t *testing.T) {
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
	const beforeExternalContent = 16
	if err := db.migrateTo(ctx, beforeExternalContent); err != nil {
		t.Fatal(err)
	}
	err = db.Write(ctx, func(tx *sql.Tx) error {
		for _, q := range []string{
			`INSERT INTO rooms (room_id, room_version) VALUES ('!r:x', '11')`,
			`INSERT INTO events (event_id, room_id, type, depth, json) VALUES ('$m', '!r:x', 'm.room.message', 2, '{"content":{"body":"fresh bread"}}')`,
			`INSERT INTO event_search (rowid, body) SELECT stream_pos, 'fresh bread' FROM events WHERE event_id = '$m'`,
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
	if err := db.migrateTo(ctx, beforeExternalContent+1); err != nil {
		t.Fatal(err)
	}
	var found string
	if err := db.QueryRow(ctx, `SELECT e.event_id FROM event_search JOIN events e ON e.stream_pos = event_search.rowid WHERE event_search MATCH '"bread"'`).Scan(&found); err != nil || found != "$m" {
		t.Fatalf("after the migration: %q, %v", found, err)
	}
	// FTS5 keeps a copy in event_search_content unless the content is external.
	var copies int
	if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM sqlite_master WHERE name IN ('event_search_content')`).Scan(&copies); err != nil || copies != 0 {
		t.Fatalf("the bodies are still copied: %d tables, %v", copies, err)
	}
}
