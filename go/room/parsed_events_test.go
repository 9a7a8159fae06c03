package room

import (
	"context"
	"encoding/json"
	"testing"
)

// A stored event read again is the event already parsed (parsedEvents), and
// stops being so once its stored JSON changes: a redaction rewrites it.
func TestStoredEventsAreParsedOnceAndNeverStale(t *testing.T) {
	ctx := context.Background()
	rooms, alice, _, roomID := publicRoomOfTwo(t)
	sent, err := rooms.Perform.Send(ctx, alice, "DEV", "", roomID, "m.room.message", nil, json.RawMessage(`{"msgtype":"m.text","body":"secret"}`))
	if err != nil {
		t.Fatal(err)
	}
	first, err := rooms.Query.Event(ctx, roomID, sent)
	if err != nil {
		t.Fatal(err)
	}
	again, err := rooms.Query.Event(ctx, roomID, sent)
	if err != nil {
		t.Fatal(err)
	}
	if again != first {
		t.Fatal("the stored event was parsed again")
	}
	if _, err := rooms.Perform.Redact(ctx, alice, "DEV", "", roomID, sent, ""); err != nil {
		t.Fatal(err)
	}
	redacted, err := rooms.Query.Event(ctx, roomID, sent)
	if err != nil {
		t.Fatal(err)
	}
	if string(redacted.Content()) != "{}" {
		t.Fatalf("after its redaction the event reads %s", redacted.Content())
	}
}

// The memo holds two generations of parsedGeneration events: the newest
// are kept, the oldest dropped.
func TestParsedEventsAreBounded(t *testing.T) {
	ctx := context.Background()
	rooms, alice, _, roomID := publicRoomOfTwo(t)
	var ids []string
	for i := 0; i < 2*parsedGeneration+1; i++ {
		id, err := rooms.Perform.Send(ctx, alice, "DEV", "", roomID, "m.room.message", nil, json.RawMessage(`{"msgtype":"m.text","body":"hi"}`))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	parsed.mu.Lock()
	held := len(parsed.recent) + len(parsed.older)
	parsed.mu.Unlock()
	if held > 2*parsedGeneration {
		t.Fatalf("%d events held, at most %d expected", held, 2*parsedGeneration)
	}
	newest, err := rooms.Query.Event(ctx, roomID, ids[len(ids)-1])
	if err != nil {
		t.Fatal(err)
	}
	again, err := rooms.Query.Event(ctx, roomID, ids[len(ids)-1])
	if err != nil || again != newest {
		t.Fatalf("the newest event was not kept (err %v)", err)
	}
}
