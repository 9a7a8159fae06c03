package storage

import (
	"context"
	"database/sql"
	"testing"
)

// Migration 17 gives receipts a thread: the receipts stored before it stay,
// unthreaded, and a user may then hold one per thread.
func TestReceiptsKeptAsUnthreaded(t *testing.T) {
	ctx := context.Background()
	old, path := databaseAtVersion(t, 16,
		`INSERT INTO receipts (room_id, receipt_type, user_id, event_id, ts, stream_pos) VALUES ('!r:x', 'm.read', '@a:x', '$e', 5, 7)`)
	old.Close()
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var thread, eventID string
	var ts, pos int64
	if err := db.QueryRow(ctx, `SELECT thread_id, event_id, ts, stream_pos FROM receipts WHERE room_id = '!r:x' AND user_id = '@a:x'`).Scan(&thread, &eventID, &ts, &pos); err != nil {
		t.Fatal(err)
	}
	if thread != "" || eventID != "$e" || ts != 5 || pos != 7 {
		t.Fatalf("migrated receipt: thread %q event %s ts %d pos %d", thread, eventID, ts, pos)
	}
	if err := db.Write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO receipts (room_id, receipt_type, user_id, thread_id, event_id, ts, stream_pos) VALUES ('!r:x', 'm.read', '@a:x', 'main', '$f', 6, 8)`)
		return err
	}); err != nil {
		t.Fatalf("a second receipt in another thread: %v", err)
	}
}
