package storage

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

func openTemp(t *testing.T) *DB {
	t.Helper()
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "hearth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestMigrateFromEmpty(t *testing.T) {
	db := openTemp(t)
	var version int
	if err := db.QueryRow(context.Background(), `SELECT MAX(version) FROM schema_version`).Scan(&version); err != nil {
		t.Fatal(err)
	}
	if version != SchemaVersion() {
		t.Fatalf("version = %d, want %d", version, SchemaVersion())
	}
}

// Every earlier version must migrate forward to the newest one, keeping
// what was written at that version: an account, a room and one of its events
// (the version-1 tables every later migration builds on).
func TestMigrateFromEveryEarlierVersion(t *testing.T) {
	if runtime.GOOS == "js" {
		t.Skip("a wasm test binary has one sql.js database (hearthStorage), so each version needs a native file")
	}
	ctx := context.Background()
	for from := 0; from < SchemaVersion(); from++ {
		path := filepath.Join(t.TempDir(), "hearth.db")
		sqlDB, err := openSQLite(path)
		if err != nil {
			t.Fatal(err)
		}
		db := &DB{sql: sqlDB, writer: make(chan struct{}, 1)}
		if err := db.migrateTo(ctx, from); err != nil {
			t.Fatalf("migrate to %d: %v", from, err)
		}
		if from >= 1 {
			err := db.Write(ctx, func(tx *sql.Tx) error {
				for _, q := range []string{
					`INSERT INTO accounts (localpart, password_hash, created_ts) VALUES ('alice', 'hash', 1)`,
					`INSERT INTO rooms (room_id, room_version) VALUES ('!r:x', '11')`,
					`INSERT INTO events (event_id, room_id, type, state_key, depth, json) VALUES ('$e', '!r:x', 'm.room.create', '', 1, '{}')`,
				} {
					if _, err := tx.ExecContext(ctx, q); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatalf("write at version %d: %v", from, err)
			}
		}
		db.Close()
		db, err = Open(ctx, path)
		if err != nil {
			t.Fatalf("open at version %d: %v", from, err)
		}
		var version int
		if err := db.QueryRow(ctx, `SELECT MAX(version) FROM schema_version`).Scan(&version); err != nil || version != SchemaVersion() {
			t.Fatalf("from %d: version = %d (%v)", from, version, err)
		}
		if from >= 1 {
			var kept int
			err := db.QueryRow(ctx, `SELECT (SELECT COUNT(*) FROM accounts WHERE localpart = 'alice')
				+ (SELECT COUNT(*) FROM rooms WHERE room_id = '!r:x') + (SELECT COUNT(*) FROM events WHERE event_id = '$e')`).Scan(&kept)
			if err != nil || kept != 3 {
				t.Fatalf("from %d: %d of 3 rows kept (%v)", from, kept, err)
			}
		}
		db.Close()
	}
}

// Migrating is one durable commit however many versions it spans (in the
// browser each commit is an IndexedDB transaction), and an up-to-date
// database opens without any.
func TestMigratingCommitsOnce(t *testing.T) {
	if runtime.GOOS == "js" {
		t.Skip("a wasm test binary has one sql.js database (hearthStorage): reopening needs native files")
	}
	ctx := context.Background()
	dir := t.TempDir()
	open := func(path string, want int64, what string) {
		t.Helper()
		db, err := Open(ctx, path)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		defer db.Close()
		if got := db.commits.Load(); got != want {
			t.Errorf("%s: %d commits, want %d", what, got, want)
		}
	}
	fresh := filepath.Join(dir, "fresh.db")
	open(fresh, 1, "a new database")
	open(fresh, 0, "an up-to-date database")
	behind := filepath.Join(dir, "behind.db")
	old, err := OpenAtVersion(ctx, behind, SchemaVersion()-5)
	if err != nil {
		t.Fatal(err)
	}
	old.Close()
	open(behind, 1, "a database five versions behind")
}

func TestWriteRollsBackOnError(t *testing.T) {
	db := openTemp(t)
	ctx := context.Background()
	boom := errors.New("boom")
	err := db.Write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.Exec(`INSERT INTO rooms (room_id, room_version) VALUES ('!a:x', '11')`); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	var n int
	db.QueryRow(ctx, `SELECT COUNT(*) FROM rooms`).Scan(&n)
	if n != 0 {
		t.Fatalf("rolled-back write left %d rows", n)
	}
}

func TestConcurrentWritersNeverLock(t *testing.T) {
	db := openTemp(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	var before int
	db.QueryRow(ctx, `SELECT COUNT(*) FROM rooms`).Scan(&before)
	errs := make(chan error, 400)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				errs <- db.Write(ctx, func(tx *sql.Tx) error {
					_, err := tx.Exec(`INSERT INTO rooms (room_id, room_version) VALUES (?, '11')`, "!"+string(rune('a'+g))+string(rune('A'+i))+":x")
					return err
				})
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	var n int
	db.QueryRow(ctx, `SELECT COUNT(*) FROM rooms`).Scan(&n)
	if n-before != 400 {
		t.Fatalf("rows added = %d, want 400", n-before)
	}
}

func TestNewerSchemaIsRefused(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "hearth.db")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	future := func(q string) {
		if err := db.Write(ctx, func(tx *sql.Tx) error { _, err := tx.Exec(q); return err }); err != nil {
			t.Fatal(err)
		}
	}
	future(`INSERT INTO schema_version (version) VALUES (999)`)
	// Under wasm every test shares one database: leave it as found.
	defer future(`DELETE FROM schema_version WHERE version = 999`)
	if _, err := Open(ctx, path); err == nil {
		t.Fatal("opened a database from the future")
	}
}
