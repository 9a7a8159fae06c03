//go:build !js

package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"testing"
	"time"
)

// openGroupTest opens a fresh native database with a table t (id).
func openGroupTest(t *testing.T) *DB {
	t.Helper()
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "hearth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `CREATE TABLE t (id INTEGER PRIMARY KEY)`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return db
}

func insertID(ctx context.Context, id int) func(tx *sql.Tx) error {
	return func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO t (id) VALUES (?)`, id)
		return err
	}
}

func ids(t *testing.T, db *DB) []int {
	t.Helper()
	rows, err := db.Query(context.Background(), `SELECT id FROM t`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []int
	for rows.Next() {
		var id int
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		out = append(out, id)
	}
	sort.Ints(out)
	return out
}

// queueBehind starts a write that holds the writer until release is closed
// (and then inserts row 0), then n more writes
// (fns[i], on waitCtx) that queue behind it; it returns once all n wait, and
// the channel all their results arrive on.
func queueBehind(t *testing.T, db *DB, waitCtx context.Context, fns []func(tx *sql.Tx) error) (release chan struct{}, results chan error) {
	t.Helper()
	ctx := context.Background()
	release = make(chan struct{})
	results = make(chan error, len(fns)+1)
	started := make(chan struct{})
	go func() {
		results <- db.Write(ctx, func(tx *sql.Tx) error {
			close(started)
			<-release
			return insertID(ctx, 0)(tx)
		})
	}()
	<-started
	for _, fn := range fns {
		go func() { results <- db.Write(waitCtx, fn) }()
	}
	deadline := time.Now().Add(10 * time.Second)
	for db.waiting.Load() != int32(len(fns)) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d writes queued", db.waiting.Load(), len(fns))
		}
		time.Sleep(time.Millisecond)
	}
	return release, results
}

func TestQueuedWritesShareOneCommit(t *testing.T) {
	db := openGroupTest(t)
	ctx := context.Background()
	var fns []func(tx *sql.Tx) error
	for id := 1; id <= 10; id++ {
		fns = append(fns, insertID(ctx, id))
	}
	before := db.commits.Load()
	release, results := queueBehind(t, db, ctx, fns)
	close(release)
	for range 11 {
		if err := <-results; err != nil {
			t.Fatal(err)
		}
	}
	if got := db.commits.Load() - before; got != 1 {
		t.Fatalf("11 queued writes made %d commits, want 1", got)
	}
	if got := ids(t, db); fmt.Sprint(got) != "[0 1 2 3 4 5 6 7 8 9 10]" {
		t.Fatalf("rows %v", got)
	}
}

func TestAFailingWriteInABatchUndoesOnlyItself(t *testing.T) {
	db := openGroupTest(t)
	ctx := context.Background()
	refused := errors.New("refused")
	failing := func(tx *sql.Tx) error {
		if err := insertID(ctx, 2)(tx); err != nil {
			return err
		}
		return refused
	}
	release, results := queueBehind(t, db, ctx, []func(tx *sql.Tx) error{insertID(ctx, 1), failing, insertID(ctx, 3)})
	close(release)
	var failed int
	for range 4 {
		err := <-results
		switch {
		case errors.Is(err, refused):
			failed++
		case err != nil:
			t.Fatal(err)
		}
	}
	if failed != 1 {
		t.Fatalf("%d writes reported the refusal, want 1", failed)
	}
	if got := ids(t, db); fmt.Sprint(got) != "[0 1 3]" {
		t.Fatalf("rows %v, want the failing write's row 2 undone and the rest kept", got)
	}
}

func TestABatchLeftForAWriterThatGaveUpIsStillCommitted(t *testing.T) {
	db := openGroupTest(t)
	ctx := context.Background()
	waitCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	release, results := queueBehind(t, db, waitCtx, []func(tx *sql.Tx) error{insertID(ctx, 2)})
	// The first writer leaves its batch for the second, which gives up waiting
	// before the token is free: it must commit the batch on its way out.
	testHookHandingOn = func() {
		cancel()
		for db.waiting.Load() != 0 {
			time.Sleep(time.Millisecond)
		}
	}
	defer func() { testHookHandingOn = nil }()
	close(release)
	var committed, gaveUp int
	for range 2 {
		select {
		case err := <-results:
			switch {
			case err == nil:
				committed++
			case errors.Is(err, context.Canceled):
				gaveUp++
			default:
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the first write waits for a commit nobody makes")
		}
	}
	if committed != 1 || gaveUp != 1 {
		t.Fatalf("%d writes committed and %d gave up, want 1 and 1", committed, gaveUp)
	}
	if got := ids(t, db); fmt.Sprint(got) != "[0]" {
		t.Fatalf("rows %v", got)
	}
}

func TestAWriteInterruptedMidStatementLeavesNoWriteFalselyReported(t *testing.T) {
	db := openGroupTest(t)
	ctx := context.Background()
	midCtx, cancel := context.WithCancel(ctx)
	interrupted := func(tx *sql.Tx) error {
		cancel()
		// A long statement on a cancelled context is interrupted; SQLite may
		// then roll back the whole transaction it was in (writeInBatch checks).
		_, err := tx.ExecContext(midCtx, `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000000) INSERT INTO t (id) SELECT i + 1000 FROM n`)
		if err == nil {
			return errors.New("the statement was not interrupted")
		}
		return err
	}
	release, results := queueBehind(t, db, ctx, []func(tx *sql.Tx) error{insertID(ctx, 1), interrupted})
	close(release)
	succeeded := 0
	for range 3 {
		if err := <-results; err == nil {
			succeeded++
		}
	}
	got := ids(t, db)
	// Whatever SQLite kept, a write reported as committed is there.
	if len(got) < succeeded {
		t.Fatalf("%d writes reported success, rows %v", succeeded, got)
	}
	for _, id := range got {
		if id >= 1000 {
			t.Fatalf("the interrupted statement's rows are there: %v", got[:min(len(got), 5)])
		}
	}
}
