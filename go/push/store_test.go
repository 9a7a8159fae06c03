package push

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"

	"hearth/go/storage"
)

// One statement stores an event's notifications for every notified user,
// with the values and SQLite types one INSERT per user stored: text IDs, an
// integer highlight, the actions as a BLOB of their JSON.
func TestNotificationsOfAnEventAreStoredAsOneRowPerUser(t *testing.T) {
	ctx := context.Background()
	db := openTestDB(t)
	users := []notifiedUser{
		{UserID: "@bob:example.org", Highlight: true, Actions: `["notify",{"set_tweak":"highlight"}]`},
		{UserID: "@carol:example.org", Highlight: false, Actions: `["notify"]`},
	}
	err := db.Write(ctx, func(tx *sql.Tx) error {
		return storeNotifications(ctx, tx, "!r:example.org", "$e", 42, "$root", 1234, users)
	})
	if err != nil {
		t.Fatal(err)
	}
	// In wasm every test shares one database: read this test's rows only.
	rows, err := db.Query(ctx, `SELECT user_id, stream_pos, room_id, event_id, thread_id, highlight, typeof(highlight), actions, typeof(actions), ts
		FROM notifications WHERE event_id = '$e' ORDER BY user_id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var user, room, event, thread, highlightType, actionsType string
		var pos, highlight, ts int64
		var actions []byte
		if err := rows.Scan(&user, &pos, &room, &event, &thread, &highlight, &highlightType, &actions, &actionsType, &ts); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%s %d %s %s %s %d %s %s %s %d", user, pos, room, event, thread, highlight, highlightType, actions, actionsType, ts))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	want := []string{
		`@bob:example.org 42 !r:example.org $e $root 1 integer ["notify",{"set_tweak":"highlight"}] blob 1234`,
		`@carol:example.org 42 !r:example.org $e $root 0 integer ["notify"] blob 1234`,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("stored\n%s\nwant\n%s", got, want)
	}
}

// openTestDB opens a database of the test's own, closed when it ends (in
// wasm, every test's opens share one sql.js database).
func openTestDB(t *testing.T) *storage.DB {
	t.Helper()
	db, err := storage.Open(context.Background(), filepath.Join(t.TempDir(), "hearth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
