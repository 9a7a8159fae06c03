//go:build js

package sqljs

import (
	"database/sql"
	"testing"
)

// BenchmarkReadThroughBridge: one prepared read of one row through
// database/sql, as most of a send's and a /sync's statements are: the cost of
// a crossing into hearthStorage and back, with sql.js's own work (bench
// clientapi.wasm.storage-call).
func BenchmarkReadThroughBridge(b *testing.B) {
	c, err := NewConnector()
	if err != nil {
		b.Fatal(err)
	}
	db := sql.OpenDB(c)
	db.SetMaxOpenConns(1)
	defer db.Close()
	if _, err := db.Exec("CREATE TABLE IF NOT EXISTS bench_rows (id INTEGER PRIMARY KEY, body TEXT, pos INTEGER)"); err != nil {
		b.Fatal(err)
	}
	// The benchmark runs more than once on the one database go_wasm_exec.js installs.
	const rows = 100
	for i := 0; i < rows; i++ {
		// pos is outside int32, as stream positions and timestamps are.
		if _, err := db.Exec("INSERT OR REPLACE INTO bench_rows VALUES (?, ?, ?)", i, "a body of about forty bytes, like an ID", int64(1)<<40+int64(i)); err != nil {
			b.Fatal(err)
		}
	}
	stmt, err := db.Prepare("SELECT body, pos FROM bench_rows WHERE id = ? AND pos > ?")
	if err != nil {
		b.Fatal(err)
	}
	defer stmt.Close()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var body string
		var pos int64
		if err := stmt.QueryRow(i%rows, 5).Scan(&body, &pos); err != nil {
			b.Fatal(err)
		}
	}
}
