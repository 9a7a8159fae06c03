package room

import (
	"context"
	"encoding/json"
	"testing"
	"time"
)

// A retried send within a day returns the first event; a day later the
// transaction ID is forgotten (its row deleted), and the same ID makes a new
// event, as in Synapse.
func TestTransactionIDsAreForgottenAfterADay(t *testing.T) {
	ctx := context.Background()
	clock := time.UnixMilli(1_700_000_000_000)
	rooms, id := newRoomsWith(t, Options{Now: func() time.Time { return clock }})
	alice := userID(t, "@alice:"+string(id.ServerName))
	roomID, err := rooms.Perform.Create(ctx, alice, CreateRequest{})
	if err != nil {
		t.Fatal(err)
	}
	send := func(txnID string) string {
		t.Helper()
		eventID, err := rooms.Perform.Send(ctx, alice, "DEVICE", txnID, roomID, "m.room.message", nil, json.RawMessage(`{"msgtype":"m.text","body":"hi"}`))
		if err != nil {
			t.Fatal(err)
		}
		return eventID
	}
	rows := func(txnID string) int {
		t.Helper()
		var n int
		if err := rooms.Query.db.QueryRow(ctx, `SELECT count(*) FROM transaction_ids WHERE txn_id = ?`, txnID).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	first := send("t1")
	clock = clock.Add(23 * time.Hour)
	if again := send("t1"); again != first {
		t.Fatalf("a retry within a day made a new event %s (first %s)", again, first)
	}
	clock = clock.Add(2 * time.Hour)
	send("t2") // a day and an hour on: recording it forgets t1
	if n := rows("t1"); n != 0 {
		t.Fatalf("t1 still has %d rows a day later", n)
	}
	if later := send("t1"); later == first {
		t.Fatal("a day later the transaction ID still returned the first event")
	}
	if n := rows("t2"); n != 1 {
		t.Fatalf("t2, an hour old, has %d rows", n)
	}
}
