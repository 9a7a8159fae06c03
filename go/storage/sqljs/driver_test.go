//go:build js

package sqljs

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"
)

// openDB opens hearthStorage (installed by js/testing/go_wasm_exec.js) the
// way package storage does. Tests share one database, so each uses its own tables.
func openDB(t *testing.T) (*sql.DB, *Connector) {
	t.Helper()
	c, err := NewConnector()
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(c)
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return db, c
}

func mustExec(t *testing.T, db *sql.DB, query string, args ...any) sql.Result {
	t.Helper()
	res, err := db.Exec(query, args...)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return res
}

// dump returns every row of table as text, to compare database states.
func dump(t *testing.T, db *sql.DB, table string) string {
	t.Helper()
	rows, err := db.Query("SELECT quote(id), quote(v) FROM " + table + " ORDER BY id")
	if err != nil {
		return "error: " + err.Error()
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var id, v string
		if err := rows.Scan(&id, &v); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s=%s;", id, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestRollbackLeavesDatabaseUnchanged(t *testing.T) {
	db, _ := openDB(t)
	mustExec(t, db, "CREATE TABLE rb (id INTEGER PRIMARY KEY, v TEXT UNIQUE)")
	mustExec(t, db, "INSERT INTO rb (id, v) VALUES (1, 'one'), (2, 'two')")
	before := dump(t, db, "rb")

	t.Run("explicit rollback", func(t *testing.T) {
		tx, err := db.Begin()
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range []string{
			"INSERT INTO rb (id, v) VALUES (3, 'three')",
			"UPDATE rb SET v = 'uno' WHERE id = 1",
			"DELETE FROM rb WHERE id = 2",
			"CREATE TABLE rb_new (x)",
		} {
			if _, err := tx.Exec(q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		if got := dumpTx(t, tx); got == before {
			t.Fatalf("the transaction saw no change: %s", got)
		}
		if err := tx.Rollback(); err != nil {
			t.Fatal(err)
		}
		if got := dump(t, db, "rb"); got != before {
			t.Fatalf("after rollback: %s, want %s", got, before)
		}
		if _, err := db.Exec("SELECT * FROM rb_new"); err == nil {
			t.Fatal("table created in a rolled back transaction exists")
		}
	})

	t.Run("error inside transaction", func(t *testing.T) {
		tx, err := db.Begin()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec("INSERT INTO rb (id, v) VALUES (?, ?)", 4, "four"); err != nil {
			t.Fatal(err)
		}
		_, err = tx.Exec("INSERT INTO rb (id, v) VALUES (?, ?)", 5, "one")
		if !errors.Is(err, ErrConstraint) {
			t.Fatalf("duplicate insert: got %v, want ErrConstraint", err)
		}
		if err := tx.Rollback(); err != nil {
			t.Fatal(err)
		}
		if got := dump(t, db, "rb"); got != before {
			t.Fatalf("after rollback: %s, want %s", got, before)
		}
	})

	t.Run("commit keeps changes", func(t *testing.T) {
		tx, err := db.Begin()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec("INSERT INTO rb (id, v) VALUES (?, ?)", 6, "six"); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		if got, want := dump(t, db, "rb"), before+"6='six';"; got != want {
			t.Fatalf("after commit: %s, want %s", got, want)
		}
	})
}

func dumpTx(t *testing.T, tx *sql.Tx) string {
	t.Helper()
	var s string
	if err := tx.QueryRow("SELECT group_concat(id || '=' || v, ';') FROM rb").Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestValuesRoundTripExactly(t *testing.T) {
	db, _ := openDB(t)
	mustExec(t, db, "CREATE TABLE vals (id INTEGER PRIMARY KEY, v)")
	mustExec(t, db, "CREATE TABLE typed (id INTEGER PRIMARY KEY, i INTEGER, r REAL, s TEXT, b BLOB)")

	all256 := make([]byte, 256)
	for i := range all256 {
		all256[i] = byte(i)
	}
	cases := []struct {
		name     string
		in       any
		want     any // the value read back into an `any`
		sqlType  string
		negative bool // float: check the sign bit too
	}{
		{"int64 max", int64(math.MaxInt64), int64(math.MaxInt64), "integer", false},
		{"int64 min", int64(math.MinInt64), int64(math.MinInt64), "integer", false},
		{"2^53+1", int64(1<<53 + 1), int64(1<<53 + 1), "integer", false},
		{"-(2^53+1)", int64(-(1<<53 + 1)), int64(-(1<<53 + 1)), "integer", false},
		{"2^31", int64(1 << 31), int64(1 << 31), "integer", false},
		{"-2^31-1", int64(-(1 << 31) - 1), int64(-(1 << 31) - 1), "integer", false},
		{"ms timestamp", int64(1_732_000_000_123), int64(1_732_000_000_123), "integer", false},
		{"zero", int64(0), int64(0), "integer", false},
		{"int", 42, int64(42), "integer", false},
		{"0.1", 0.1, 0.1, "real", false},
		{"-0", math.Copysign(0, -1), math.Copysign(0, -1), "real", true},
		{"integral float stays REAL", 3.0, 3.0, "real", false},
		{"huge float", 1e308, 1e308, "real", false},
		{"smallest denormal", 5e-324, 5e-324, "real", false},
		{"max float", math.MaxFloat64, math.MaxFloat64, "real", false},
		{"text unicode and NUL", "héllo\x00wörld 🔥 \u2028", "héllo\x00wörld 🔥 \u2028", "text", false},
		{"empty text", "", "", "text", false},
		{"blob all bytes", all256, all256, "blob", false},
		{"empty blob", []byte{}, []byte{}, "blob", false},
		{"NULL", nil, nil, "null", false},
		{"bool true", true, int64(1), "integer", false},
		{"bool false", false, int64(0), "integer", false},
		{"time", time.Date(2024, 2, 29, 13, 4, 5, 123456789, time.FixedZone("x", 3600)), "2024-02-29 12:04:05.123456789+00:00", "text", false},
	}
	check := func(t *testing.T, got any, gotType string, c struct {
		name     string
		in       any
		want     any
		sqlType  string
		negative bool
	}) {
		t.Helper()
		if gotType != c.sqlType {
			t.Errorf("typeof = %s, want %s", gotType, c.sqlType)
		}
		switch w := c.want.(type) {
		case []byte:
			g, ok := got.([]byte)
			if !ok || !bytes.Equal(g, w) {
				t.Errorf("got %T %v, want %v", got, got, w)
			}
		case float64:
			g, ok := got.(float64)
			if !ok || g != w || math.Signbit(g) != math.Signbit(w) {
				t.Errorf("got %T %v, want %v", got, got, w)
			}
		default:
			if got != c.want {
				t.Errorf("got %T %#v, want %T %#v", got, got, c.want, c.want)
			}
		}
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// Stored in an untyped column and read back.
			mustExec(t, db, "INSERT INTO vals (id, v) VALUES (?, ?)", i, c.in)
			var got any
			var typ string
			if err := db.QueryRow("SELECT v, typeof(v) FROM vals WHERE id = ?", i).Scan(&got, &typ); err != nil {
				t.Fatal(err)
			}
			check(t, got, typ, c)
			// Bound and returned without touching a table.
			if err := db.QueryRow("SELECT ?, typeof(?1)", c.in).Scan(&got, &typ); err != nil {
				t.Fatal(err)
			}
			check(t, got, typ, c)
			// Equality in SQL sees the same value.
			var n int
			if err := db.QueryRow("SELECT count(*) FROM vals WHERE id = ? AND v IS ?", i, c.in).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != 1 {
				t.Errorf("WHERE v IS ? found %d rows", n)
			}
		})
	}

	t.Run("typed columns", func(t *testing.T) {
		mustExec(t, db, "INSERT INTO typed (id, i, r, s, b) VALUES (1, ?, ?, ?, ?)",
			int64(math.MinInt64+1), 0.1, "text\x00", all256)
		var i int64
		var r float64
		var s string
		var b []byte
		if err := db.QueryRow("SELECT i, r, s, b FROM typed WHERE id = 1").Scan(&i, &r, &s, &b); err != nil {
			t.Fatal(err)
		}
		if i != math.MinInt64+1 || r != 0.1 || s != "text\x00" || !bytes.Equal(b, all256) {
			t.Fatalf("got %d %v %q %x", i, r, s, b)
		}
	})

	t.Run("named parameters", func(t *testing.T) {
		var a, b int64
		if err := db.QueryRow("SELECT :big + 0, :big", sql.Named("big", int64(1<<62))).Scan(&a, &b); err != nil {
			t.Fatal(err)
		}
		if a != 1<<62 || b != 1<<62 {
			t.Fatalf("got %d %d", a, b)
		}
	})

	t.Run("wide integer parameters keep column names", func(t *testing.T) {
		rows, err := db.Query("SELECT ?", int64(1<<40))
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		cols, _ := rows.Columns()
		if len(cols) != 1 || cols[0] != "?" {
			t.Fatalf("columns %q, want [?]", cols)
		}
	})
}

func TestExecResultAndScripts(t *testing.T) {
	db, _ := openDB(t)
	mustExec(t, db, `CREATE TABLE script_a (id INTEGER PRIMARY KEY, v);
		CREATE TABLE script_b (id INTEGER PRIMARY KEY, v);
		INSERT INTO script_a (v) VALUES ('x');`)
	res := mustExec(t, db, "INSERT INTO script_b (id, v) VALUES (?, ?)", int64(1)<<40, "y")
	if id, _ := res.LastInsertId(); id != 1<<40 {
		t.Errorf("LastInsertId = %d, want %d", id, int64(1)<<40)
	}
	mustExec(t, db, "INSERT INTO script_b (v) VALUES ('z'), ('w')")
	res = mustExec(t, db, "UPDATE script_b SET v = ? WHERE v != ?", "u", "none")
	if n, _ := res.RowsAffected(); n != 3 {
		t.Errorf("RowsAffected = %d, want 3", n)
	}
	var n int
	if err := db.QueryRow("SELECT count(*) FROM script_a").Scan(&n); err != nil || n != 1 {
		t.Fatalf("script_a has %d rows (%v), want 1", n, err)
	}
}

func TestStatementsAreAlwaysFreed(t *testing.T) {
	db, c := openDB(t)
	mustExec(t, db, "CREATE TABLE many (id INTEGER PRIMARY KEY, v TEXT UNIQUE)")
	for i := range 100 {
		mustExec(t, db, "INSERT INTO many (v) VALUES (?)", fmt.Sprint("v", i))
	}
	base := c.Stats()
	for i := range 3000 {
		switch i % 6 {
		case 0: // rows not fully read
			rows, err := db.Query("SELECT id, v FROM many WHERE id > ?", i%50)
			if err != nil {
				t.Fatal(err)
			}
			rows.Next()
			rows.Close()
		case 1: // syntax error
			if _, err := db.Query("SELEC nothing"); err == nil {
				t.Fatal("syntax error not reported")
			}
		case 2: // constraint error
			if _, err := db.Exec("INSERT INTO many (v) VALUES (?)", "v1"); !errors.Is(err, ErrConstraint) {
				t.Fatalf("got %v, want ErrConstraint", err)
			}
		case 3: // prepared, used, closed; a new SQL text each time
			st, err := db.Prepare(fmt.Sprintf("SELECT v FROM many WHERE id = ? AND %d = %d", i, i))
			if err != nil {
				t.Fatal(err)
			}
			var v string
			if err := st.QueryRow(1).Scan(&v); err != nil {
				t.Fatal(err)
			}
			st.Close()
		case 4: // wide parameter variants
			var n int64
			if err := db.QueryRow("SELECT count(*) FROM many WHERE id < ?", int64(1)<<40+int64(i)).Scan(&n); err != nil {
				t.Fatal(err)
			}
		case 5: // prepare error
			if _, err := db.Prepare("SELECT * FROM no_such_table"); err == nil {
				t.Fatal("prepare of a missing table succeeded")
			}
		}
		if i%500 == 0 {
			if s := c.Stats(); s.OpenStatements > base.OpenStatements+80 {
				t.Fatalf("after %d queries %d statements are open (started with %d)", i, s.OpenStatements, base.OpenStatements)
			}
		}
	}
	// The connection keeps a handle for each SQL text it ran (handleFor):
	// the two queries run through db.Query; the rest were freed.
	end := c.Stats()
	if end.OpenStatements > base.OpenStatements+80 || end.Handles != base.Handles+2 {
		t.Fatalf("open statements %d (was %d), handles %d (was %d, want 2 more)", end.OpenStatements, base.OpenStatements, end.Handles, base.Handles)
	}
}

// A connection keeps at most maxStatementHandles statements prepared,
// however many SQL texts it runs; each still answers right.
func TestStatementHandlesAreBounded(t *testing.T) {
	db, c := openDB(t)
	base := c.Stats()
	for i := range 3 * maxStatementHandles {
		var n int
		if err := db.QueryRow(fmt.Sprintf("SELECT %d + ?", i), 1).Scan(&n); err != nil || n != i+1 {
			t.Fatalf("query %d: %d, %v", i, n, err)
		}
		if s := c.Stats(); s.Handles > base.Handles+maxStatementHandles || s.OpenStatements > base.OpenStatements+maxStatementHandles+80 {
			t.Fatalf("after %d texts: %d handles (was %d), %d open statements (was %d)", i+1, s.Handles, base.Handles, s.OpenStatements, base.OpenStatements)
		}
	}
}

func TestContextCancellationIsHonoured(t *testing.T) {
	db, _ := openDB(t)
	mustExec(t, db, "CREATE TABLE cancel (id INTEGER PRIMARY KEY, v)")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := db.ExecContext(ctx, "INSERT INTO cancel (v) VALUES (1)"); !errors.Is(err, context.Canceled) {
		t.Fatalf("exec with a cancelled context: %v", err)
	}
	if _, err := db.QueryContext(ctx, "SELECT * FROM cancel"); !errors.Is(err, context.Canceled) {
		t.Fatalf("query with a cancelled context: %v", err)
	}
	if _, err := db.BeginTx(ctx, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("begin with a cancelled context: %v", err)
	}

	// Cancelled mid-transaction: database/sql rolls back, later statements fail.
	ctx, cancel = context.WithCancel(context.Background())
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO cancel (v) VALUES (2)"); err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, err := tx.ExecContext(ctx, "INSERT INTO cancel (v) VALUES (3)"); err == nil {
		t.Fatal("statement after cancel succeeded")
	}
	if err := tx.Commit(); err == nil {
		t.Fatal("commit after cancel succeeded")
	}
	var n int
	// The rollback runs in database/sql's goroutine; the next use of the conn waits for it.
	if err := db.QueryRow("SELECT count(*) FROM cancel").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("%d rows after cancelled work, want 0", n)
	}
}

func TestManyGoroutinesWriting(t *testing.T) {
	db, c := openDB(t)
	mustExec(t, db, "CREATE TABLE concurrent (id INTEGER PRIMARY KEY, writer INTEGER, n INTEGER)")
	before := c.Stats().Commits
	const writers, each = 16, 40
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				var err error
				if (w+i)%2 == 0 {
					_, err = db.Exec("INSERT INTO concurrent (writer, n) VALUES (?, ?)", w, i)
				} else {
					err = inTx(db, func(tx *sql.Tx) error {
						_, err := tx.Exec("INSERT INTO concurrent (writer, n) VALUES (?, ?)", w, i)
						return err
					})
				}
				if err != nil {
					errs <- fmt.Errorf("writer %d, write %d: %w", w, i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	var n int
	if err := db.QueryRow("SELECT count(DISTINCT writer || '/' || n) FROM concurrent").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != writers*each {
		t.Fatalf("%d distinct writes, want %d", n, writers*each)
	}
	if got := c.Stats().Commits - before; got != writers*each {
		t.Fatalf("%d durable commits, want %d", got, writers*each)
	}
}

func inTx(db *sql.DB, fn func(*sql.Tx) error) error {
	tx, err := db.Begin()
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

func TestOnlyOneConnection(t *testing.T) {
	c, err := NewConnector()
	if err != nil {
		t.Fatal(err)
	}
	first, err := c.Connect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Connect(context.Background()); !errors.Is(err, ErrOneConnection) {
		t.Fatalf("second connection: %v, want ErrOneConnection", err)
	}
	first.Close()
	second, err := c.Connect(context.Background())
	if err != nil {
		t.Fatalf("connection after close: %v", err)
	}
	second.Close()
}

// Params and results cross in two buffers that JS replaces by larger ones
// when a statement's bytes do not fit (go/bridge/storage_js.go): values of
// every size, before and after each replacement, and after a failed
// statement, must come back exactly.
func TestValuesOfEverySizeCrossTheBuffers(t *testing.T) {
	db, _ := openDB(t)
	mustExec(t, db, "CREATE TABLE sizes (id INTEGER PRIMARY KEY, v BLOB)")
	sizes := []int{0, 10, 4 << 10, 20 << 10, 3, 300 << 10, 17, 1 << 20, 5}
	want := map[int][]byte{}
	for id, size := range sizes {
		v := make([]byte, size)
		for i := range v {
			v[i] = byte(id*31 + i*7)
		}
		want[id] = v
		mustExec(t, db, "INSERT INTO sizes (id, v) VALUES (?, ?)", id, v)
		if _, err := db.Exec("INSERT INTO sizes (id, v) VALUES (?, ?)", id, v); err == nil {
			t.Fatalf("a duplicate id %d was inserted", id)
		}
		// Every row so far, each read alone: small reads after large ones.
		for prev := 0; prev <= id; prev++ {
			var got []byte
			if err := db.QueryRow("SELECT v FROM sizes WHERE id = ?", prev).Scan(&got); err != nil {
				t.Fatalf("read %d after writing %d: %v", prev, id, err)
			}
			if !bytes.Equal(got, want[prev]) && !(len(got) == 0 && len(want[prev]) == 0) {
				t.Fatalf("row %d (%d bytes) read back as %d different bytes after writing row %d", prev, len(want[prev]), len(got), id)
			}
		}
	}
}
