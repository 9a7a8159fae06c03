//go:build !js

package storage

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
)

// A cached statement must behave as a freshly prepared one: nested reads of
// the same SQL, a failed write followed by a good one, a schema change, and
// more distinct statements than the cache holds.
func TestStatementCache(t *testing.T) {
	ctx := context.Background()
	db := openTemp(t)
	write := func(q string, args ...any) error {
		return db.Write(ctx, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, q, args...)
			return err
		})
	}
	if err := write(`CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	const insert = `INSERT INTO t (k, v) VALUES (?, ?)`
	for k := range 3 {
		if err := write(insert, k, fmt.Sprint("v", k)); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("nested read of the same SQL", func(t *testing.T) {
		const q = `SELECT k FROM t WHERE k >= ? ORDER BY k`
		err := db.Write(ctx, func(tx *sql.Tx) error {
			outer, err := tx.QueryContext(ctx, q, 0)
			if err != nil {
				return err
			}
			defer outer.Close()
			n := 0
			for outer.Next() {
				var k int
				if err := outer.Scan(&k); err != nil {
					return err
				}
				var inner int
				if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM (`+q+`)`, k).Scan(&inner); err != nil {
					return err
				}
				rows, err := tx.QueryContext(ctx, q, k) // the same SQL while outer is open
				if err != nil {
					return err
				}
				m := 0
				for rows.Next() {
					m++
				}
				rows.Close()
				if m != inner || m != 3-k {
					return fmt.Errorf("k=%d: nested read saw %d rows, count %d, want %d", k, m, inner, 3-k)
				}
				n++
			}
			if n != 3 {
				return fmt.Errorf("outer read saw %d rows, want 3", n)
			}
			return outer.Err()
		})
		if err != nil {
			t.Fatal(err)
		}
	})

	t.Run("failed write then good write", func(t *testing.T) {
		if err := write(insert, 0, "duplicate"); err == nil {
			t.Fatal("duplicate key accepted")
		}
		if err := write(insert, 10, "v10"); err != nil {
			t.Fatalf("statement unusable after a failure: %v", err)
		}
	})

	t.Run("schema change", func(t *testing.T) {
		const q = `SELECT * FROM t WHERE k = 10`
		var k int
		var v string
		if err := db.QueryRow(ctx, q).Scan(&k, &v); err != nil {
			t.Fatal(err)
		}
		if err := write(`ALTER TABLE t ADD COLUMN w TEXT NOT NULL DEFAULT 'added'`); err != nil {
			t.Fatal(err)
		}
		var w string
		if err := db.QueryRow(ctx, q).Scan(&k, &v, &w); err != nil || w != "added" {
			t.Fatalf("after ALTER TABLE: w=%q, err=%v", w, err)
		}
	})

	t.Run("more statements than the cache holds", func(t *testing.T) {
		for i := range maxCachedStatements + 10 {
			var got int
			if err := db.QueryRow(ctx, fmt.Sprintf(`SELECT %d + k FROM t WHERE k = 1`, i)).Scan(&got); err != nil || got != i+1 {
				t.Fatalf("query %d: got %d, err %v", i, got, err)
			}
		}
	})

	t.Run("script", func(t *testing.T) {
		if err := write(`INSERT INTO t (k, v) VALUES (20, 'a'); INSERT INTO t (k, v) VALUES (21, 'b');`); err != nil {
			t.Fatal(err)
		}
		var n int
		if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM t WHERE k IN (20, 21)`).Scan(&n); err != nil || n != 2 {
			t.Fatalf("script inserted %d rows, err %v", n, err)
		}
	})
}
