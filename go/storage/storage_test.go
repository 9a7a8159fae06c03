package storage

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
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

// Every earlier version must migrate forward to the newest one.
func TestMigrateFromEveryEarlierVersion(t *testing.T) {
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
		db.Close()
		db, err = Open(ctx, path)
		if err != nil {
			t.Fatalf("open at version %d: %v", from, err)
		}
		var version int
		if err := db.QueryRow(ctx, `SELECT MAX(version) FROM schema_version`).Scan(&version); err != nil || version != SchemaVersion() {
			t.Fatalf("from %d: version = %d (%v)", from, version, err)
		}
		db.Close()
	}
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
	if n != 400 {
		t.Fatalf("rows = %d, want 400", n)
	}
}

func TestNewerSchemaIsRefused(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "hearth.db")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	db.Write(ctx, func(tx *sql.Tx) error {
		_, err := tx.Exec(`INSERT INTO schema_version (version) VALUES (999)`)
		return err
	})
	db.Close()
	if _, err := Open(ctx, path); err == nil {
		t.Fatal("opened a database from the future")
	}
}
