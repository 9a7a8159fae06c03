package room

import (
	"context"
	"encoding/json"
	"testing"
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
}
