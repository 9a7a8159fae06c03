package room

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"runtime"
	"testing"
	"time"
)

// Search and relations read SQLite's full-text index (FTS4 in sql.js, FTS5
// natively) and JSON functions; this runs on both drivers, the wasm build's
// included.
func TestSearchAndRelationsOnEitherDriver(t *testing.T) {
	ctx := context.Background()
	rooms, id := newRooms(t)
	alice := userID(t, "@alice:"+string(id.ServerName))
	roomID, err := rooms.Perform.Create(ctx, alice, CreateRequest{Name: "Search"})
	if err != nil {
		t.Fatal(err)
	}
	send := func(txn, content string) string {
		eventID, err := rooms.Perform.Send(ctx, alice, "DEV", txn, roomID, "m.room.message", nil, json.RawMessage(content))
		if err != nil {
			t.Fatal(err)
		}
		return eventID
	}
	root := send("t1", `{"msgtype":"m.text","body":"Fresh bread today"}`)
	send("t2", `{"msgtype":"m.text","body":"no match here"}`)
	reply := send("t3", `{"msgtype":"m.text","body":"more bread","m.relates_to":{"rel_type":"m.thread","event_id":"`+root+`"}}`)

	results, count, more, err := rooms.Query.Search(ctx, alice, SearchQuery{Terms: SearchTerms("BREAD"), Recent: true, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if count != 2 || more || len(results) != 2 || results[0].EventID() != reply || results[1].EventID() != root {
		t.Fatalf("search: count %d, more %v, %d results", count, more, len(results))
	}
	children, _, _, err := rooms.Query.Relations(ctx, alice, roomID, RelationsQuery{EventID: root, RelType: RelThread, Dir: Backward, Limit: 10})
	if err != nil || len(children) != 1 || children[0].EventID() != reply {
		t.Fatalf("relations: %v, %d children", err, len(children))
	}
	threads, _, _, err := rooms.Query.Threads(ctx, alice, roomID, 0, 10, true)
	if err != nil || len(threads) != 1 || threads[0].EventID() != root {
		t.Fatalf("threads: %v, %d", err, len(threads))
	}

	// The index keeps no copy of the bodies (it reads them from the events):
	// a redaction must still take the body out of it, and leave the others.
	if _, err := rooms.Perform.Redact(ctx, alice, "DEV", "r1", roomID, reply, ""); err != nil {
		t.Fatal(err)
	}
	results, count, _, err = rooms.Query.Search(ctx, alice, SearchQuery{Terms: SearchTerms("bread"), Recent: true, Limit: 10})
	if err != nil || count != 1 || len(results) != 1 || results[0].EventID() != root {
		t.Fatalf("search after a redaction: %v, count %d, %d results", err, count, len(results))
	}
	if results, _, _, err = rooms.Query.Search(ctx, alice, SearchQuery{Terms: SearchTerms("more"), Recent: true, Limit: 10}); err != nil || len(results) != 0 {
		t.Fatalf("the redacted body's own word: %v, %d results", err, len(results))
	}
	var indexed int
	if err := rooms.Query.db.QueryRow(ctx, `SELECT COUNT(*) FROM event_search WHERE event_search MATCH '"match"'`).Scan(&indexed); err != nil || indexed != 1 {
		t.Fatalf("the other bodies stay indexed: %v, %d", err, indexed)
	}

	// A message redacted before the index took it in (it is indexed after
	// its write): the redaction must not take its words out of an index
	// that never held them, and the catch-up must not put them in.
	late := send("t4", `{"msgtype":"m.text","body":"stale bread"}`)
	if n := indexedMatches(t, rooms, "stale"); n != 0 {
		t.Fatalf("the send's own write indexed its body (%d matches)", n)
	}
	if _, err := rooms.Perform.Redact(ctx, alice, "DEV", "r2", roomID, late, ""); err != nil {
		t.Fatal(err)
	}
	if results, _, _, err = rooms.Query.Search(ctx, alice, SearchQuery{Terms: SearchTerms("stale"), Recent: true, Limit: 10}); err != nil || len(results) != 0 {
		t.Fatalf("a message redacted before it was indexed: %v, %d results", err, len(results))
	}
	checkSearchIndex(t, rooms)
}

// indexedMatches counts the index's rows matching term, read directly.
func indexedMatches(t *testing.T, rooms *Rooms, term string) int {
	t.Helper()
	var n int
	if err := rooms.Query.db.QueryRow(context.Background(), `SELECT COUNT(*) FROM event_search WHERE event_search MATCH ?`, `"`+term+`"`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// checkSearchIndex fails the test unless the full-text index agrees with
// the texts it reads from the events (SQLite's own check: FTS4 compares with
// the content always, FTS5 when rank is 1).
func checkSearchIndex(t *testing.T, rooms *Rooms) {
	t.Helper()
	check := `INSERT INTO event_search (event_search, rank) VALUES ('integrity-check', 1)`
	if runtime.GOOS == "js" {
		check = `INSERT INTO event_search (event_search) VALUES ('integrity-check')`
	}
	err := rooms.Query.db.Write(context.Background(), func(tx *sql.Tx) error {
		_, err := tx.Exec(check)
		return err
	})
	if err != nil {
		t.Fatalf("the search index is corrupt: %v", err)
	}
}

// New messages are indexed a moment after their writes, with no search to
// ask for them.
func TestSearchIndexCatchesUpAfterWrites(t *testing.T) {
	ctx := context.Background()
	rooms, id := newRooms(t)
	alice := userID(t, "@alice:"+string(id.ServerName))
	roomID, err := rooms.Perform.Create(ctx, alice, CreateRequest{Name: "Later"})
	if err != nil {
		t.Fatal(err)
	}
	indexer, stop := context.WithCancel(ctx)
	defer stop()
	go rooms.RunSearchIndexer(indexer, 10*time.Millisecond)
	const messages = 5
	for i := range messages {
		if _, err := rooms.Perform.Send(ctx, alice, "DEV", fmt.Sprint("t", i), roomID, "m.room.message", nil,
			json.RawMessage(`{"msgtype":"m.text","body":"kettle on"}`)); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for indexedMatches(t, rooms, "kettle") != messages {
		if time.Now().After(deadline) {
			t.Fatalf("after 10 s the index holds %d of %d messages", indexedMatches(t, rooms, "kettle"), messages)
		}
		time.Sleep(5 * time.Millisecond)
	}
	checkSearchIndex(t, rooms)
}
