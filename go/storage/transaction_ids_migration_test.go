package storage

import (
	"context"
	"fmt"
	"slices"
	"testing"
)

// Migration 22 names a transaction ID's event by stream position: what each
// device sent with which ID, and when, is carried over.
func TestTransactionIDsKeptByPosition(t *testing.T) {
	ctx := context.Background()
	old, path := databaseAtVersion(t, 21,
		`INSERT INTO rooms (room_id, room_version) VALUES ('!r:x', '11')`,
		`INSERT INTO events (event_id, room_id, type, depth, json) VALUES ('$a', '!r:x', 'm.room.message', 1, '{}')`,
		`INSERT INTO events (event_id, room_id, type, depth, json) VALUES ('$b', '!r:x', 'm.room.message', 2, '{}')`,
		`INSERT INTO transaction_ids (localpart, device_id, room_id, txn_id, event_id, sent_ts) VALUES ('alice', 'PHONE', '!r:x', 't1', '$a', 100)`,
		`INSERT INTO transaction_ids (localpart, device_id, room_id, txn_id, event_id, sent_ts) VALUES ('alice', 'LAPTOP', '!r:x', 't1', '$b', 200)`)
	old.Close()
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(ctx, `SELECT e.event_id, t.localpart, t.device_id, t.txn_id, t.sent_ts FROM transaction_ids t JOIN events e ON e.stream_pos = t.stream_pos ORDER BY t.sent_ts`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var event, localpart, device, txn string
		var ts int64
		if err := rows.Scan(&event, &localpart, &device, &txn, &ts); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%s %s %s %s %d", event, localpart, device, txn, ts))
	}
	if want := []string{"$a alice PHONE t1 100", "$b alice LAPTOP t1 200"}; !slices.Equal(got, want) {
		t.Fatalf("migrated transaction IDs: %q, want %q", got, want)
	}
}
