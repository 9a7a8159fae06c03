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
	roomID, err := rooms.Create(ctx, alice, CreateRequest{Name: "Search"})
	if err != nil {
		t.Fatal(err)
	}
	send := func(txn, content string) string {
		eventID, err := rooms.Send(ctx, alice, "DEV", txn, roomID, "m.room.message", nil, json.RawMessage(content))
		if err != nil {
			t.Fatal(err)
		}
		return eventID
	}
	root := send("t1", `{"msgtype":"m.text","body":"Fresh bread today"}`)
	send("t2", `{"msgtype":"m.text","body":"no match here"}`)
	reply := send("t3", `{"msgtype":"m.text","body":"more bread","m.relates_to":{"rel_type":"m.thread","event_id":"`+root+`"}}`)

	results, count, more, err := rooms.Search(ctx, alice, SearchQuery{Terms: SearchTerms("BREAD"), Recent: true, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if count != 2 || more || len(results) != 2 || results[0].EventID() != reply || results[1].EventID() != root {
		t.Fatalf("search: count %d, more %v, %d results", count, more, len(results))
	}
	children, _, _, err := rooms.Relations(ctx, alice, roomID, RelationsQuery{EventID: root, RelType: RelThread, Dir: Backward, Limit: 10})
	if err != nil || len(children) != 1 || children[0].EventID() != reply {
		t.Fatalf("relations: %v, %d children", err, len(children))
	}
	threads, _, _, err := rooms.Threads(ctx, alice, roomID, 0, 10, true)
	if err != nil || len(threads) != 1 || threads[0].EventID() != root {
		t.Fatalf("threads: %v, %d", err, len(threads))
	}
}
