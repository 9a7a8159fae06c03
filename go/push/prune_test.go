package push

import (
	"context"
	"database/sql"
	"testing"

	"github.com/matrix-org/gomatrixserverlib/spec"
)

// A user keeps only their newest notifications; other users' stay.
func TestPruneKeepsTheNewest(t *testing.T) {
	ctx := context.Background()
	db := openTestDB(t)
	bob, _ := spec.NewUserID("@bob:example.org", true)
	err := db.Write(ctx, func(tx *sql.Tx) error {
		for pos := 1; pos <= 10; pos++ {
			for _, user := range []string{bob.String(), "@carol:example.org"} {
				if _, err := tx.ExecContext(ctx, `INSERT INTO notifications (user_id, stream_pos, room_id, event_id, thread_id, highlight, actions, ts)
					VALUES (?, ?, '!r:example.org', ?, '', 0, '[]', 0)`, user, pos, "$e"+string(rune('a'+pos))); err != nil {
					return err
				}
			}
		}
		return prune(ctx, tx, *bob, 3)
	})
	if err != nil {
		t.Fatal(err)
	}
	var kept, lowest, others int
	if err := db.QueryRow(ctx, `SELECT COUNT(*), MIN(stream_pos) FROM notifications WHERE user_id = ?`, bob.String()).Scan(&kept, &lowest); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM notifications WHERE user_id = '@carol:example.org'`).Scan(&others); err != nil {
		t.Fatal(err)
	}
	if kept != 3 || lowest != 8 || others != 10 {
		t.Fatalf("kept %d from %d, carol %d", kept, lowest, others)
	}
}
