package keys

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/matrix-org/gomatrixserverlib/spec"

	"hearth/go/storage"
)

// newToDeviceKeys is a key store of server "hs" whose only device is @bob:hs's DEV1.
func newToDeviceKeys(t *testing.T, now *time.Time) (*Keys, *storage.DB) {
	t.Helper()
	db, err := storage.Open(context.Background(), filepath.Join(t.TempDir(), "hearth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	k := New(db, "hs", Options{
		Now: func() time.Time { return *now },
		Devices: func(_ context.Context, u spec.UserID) ([]string, error) {
			if u.String() == "@bob:hs" {
				return []string{"DEV1"}, nil
			}
			return nil, nil
		},
	})
	return k, db
}

// pendingFrom counts the to-device messages waiting from origin.
func pendingFrom(t *testing.T, db *storage.DB, origin string) int {
	t.Helper()
	var n int
	if err := db.QueryRow(context.Background(), `SELECT COUNT(*) FROM to_device WHERE origin = ?`, origin).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// Issue 11, defect 4: messages for users or devices that do not exist were
// stored for ever; one server could queue without bound; and a retried
// transaction delivered its to-device messages again.
func TestRemoteToDevice(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1_700_000_000, 0)
	k, db := newToDeviceKeys(t, &now)
	content := json.RawMessage(`{"ciphertext":"x"}`)
	msgs := map[string]map[string]json.RawMessage{
		"@bob:hs":     {"DEV1": content, "NOSUCHDEVICE": content},
		"@nobody:hs":  {"*": content, "DEV1": content},
		"@carol:else": {"*": content},
	}

	t.Run("only existing devices get messages", func(t *testing.T) {
		if err := k.ReceiveRemoteToDevice(ctx, "evil1", "m1", "@eve:evil1", "m.room.encrypted", msgs); err != nil {
			t.Fatal(err)
		}
		if n := pendingFrom(t, db, "evil1"); n != 1 {
			t.Fatalf("%d messages stored, want 1 (bob's DEV1)", n)
		}
	})
	t.Run("a repeated message_id delivers nothing again", func(t *testing.T) {
		for range 2 {
			if err := k.ReceiveRemoteToDevice(ctx, "evil1", "m1", "@eve:evil1", "m.room.encrypted", msgs); err != nil {
				t.Fatal(err)
			}
		}
		if n := pendingFrom(t, db, "evil1"); n != 1 {
			t.Fatalf("%d messages after the retry, want 1", n)
		}
		// The same ID from another server is another message.
		if err := k.ReceiveRemoteToDevice(ctx, "evil2", "m1", "@eve:evil2", "m.room.encrypted", msgs); err != nil {
			t.Fatal(err)
		}
		if n := pendingFrom(t, db, "evil2"); n != 1 {
			t.Fatalf("%d messages from evil2, want 1", n)
		}
	})
	t.Run("one server's waiting bytes are bounded", func(t *testing.T) {
		big := json.RawMessage(`{"blob":"` + strings.Repeat("x", 1<<20) + `"}`)
		for i := range 6 {
			if err := k.ReceiveRemoteToDevice(ctx, "flood", "f"+string(rune('0'+i)), "@f:flood", "m.flood",
				map[string]map[string]json.RawMessage{"@bob:hs": {"DEV1": big}}); err != nil {
				t.Fatal(err)
			}
		}
		if n := pendingFrom(t, db, "flood"); n != 3 {
			t.Fatalf("%d MiB-sized messages kept from one server, want 3 (under %d bytes)", n, MaxPendingToDeviceBytes)
		}
		// Others still get through.
		if err := k.ReceiveRemoteToDevice(ctx, "honest", "h1", "@h:honest", "m.room.encrypted", msgs); err != nil {
			t.Fatal(err)
		}
		if n := pendingFrom(t, db, "honest"); n != 1 {
			t.Fatalf("honest server's message not kept: %d", n)
		}
	})
	t.Run("message IDs are forgotten after a day", func(t *testing.T) {
		now = now.Add(receivedIDRetention + time.Minute)
		if err := k.ReceiveRemoteToDevice(ctx, "evil1", "m1", "@eve:evil1", "m.room.encrypted", msgs); err != nil {
			t.Fatal(err)
		}
		if n := pendingFrom(t, db, "evil1"); n != 2 {
			t.Fatalf("%d messages, want 2", n)
		}
	})
}

// Local senders' messages for unknown users and devices are dropped too.
func TestLocalToDeviceSkipsUnknownDevices(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	k, db := newToDeviceKeys(t, &now)
	content := json.RawMessage(`{}`)
	sender, _ := spec.NewUserID("@alice:hs", true)
	err := k.SendToDevice(context.Background(), *sender, "ADEV", "txn1", "m.test", map[string]map[string]json.RawMessage{
		"@bob:hs": {"DEV1": content, "GHOST": content}, "@ghost:hs": {"*": content, "X": content},
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := pendingFrom(t, db, ""); n != 1 {
		t.Fatalf("%d messages stored, want 1", n)
	}
}

// A sync carries at most maxToDevicePerSync messages and stops its token at
// the last one carried; the next sync, from that token, acknowledges them
// (they are deleted) and carries the rest; one more acknowledges those.
func TestToDeviceIsCarriedInBatchesAndAcknowledged(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1_700_000_000, 0)
	k, db := newToDeviceKeys(t, &now)
	sender, _ := spec.NewUserID("@alice:hs", true)
	bob, _ := spec.NewUserID("@bob:hs", true)
	// Under wasm the tests share one database: what others left for bob is
	// acknowledged first.
	before, err := db.LatestDataPos(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.ForSync(ctx, *bob, "DEV1", before, before); err != nil {
		t.Fatal(err)
	}
	const sent = maxToDevicePerSync + 50
	for i := range sent {
		err := k.SendToDevice(ctx, *sender, "ADEV", fmt.Sprintf("batch-%d", i), "m.test",
			map[string]map[string]json.RawMessage{"@bob:hs": {"DEV1": json.RawMessage(fmt.Sprintf(`{"n":%d}`, i))}})
		if err != nil {
			t.Fatal(err)
		}
	}
	upTo, err := db.LatestDataPos(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sync := func(acked int64, wantFirst, wantCount int) int64 {
		t.Helper()
		d, err := k.ForSync(ctx, *bob, "DEV1", acked, upTo)
		if err != nil {
			t.Fatal(err)
		}
		evs, last := d.ToDevice, d.DataUpTo
		if len(evs) != wantCount {
			t.Fatalf("from %d: %d messages, want %d", acked, len(evs), wantCount)
		}
		for i, ev := range evs {
			var c struct{ N int }
			if err := json.Unmarshal(ev.Content, &c); err != nil || c.N != wantFirst+i {
				t.Fatalf("from %d: message %d is %s, want n=%d", acked, i, ev.Content, wantFirst+i)
			}
		}
		return last
	}
	first := sync(0, 0, maxToDevicePerSync)
	if first >= upTo {
		t.Fatalf("a full batch's token is %d, want it before %d (more wait)", first, upTo)
	}
	if again := sync(0, 0, maxToDevicePerSync); again != first {
		t.Fatalf("unacknowledged, the batch came back with token %d, want %d", again, first)
	}
	if last := sync(first, maxToDevicePerSync, sent-maxToDevicePerSync); last != upTo {
		t.Fatalf("the last batch's token is %d, want %d", last, upTo)
	}
	if n := pendingFrom(t, db, ""); n != sent-maxToDevicePerSync {
		t.Fatalf("%d messages kept after the first batch was acknowledged, want %d", n, sent-maxToDevicePerSync)
	}
	sync(upTo, 0, 0)
	if n := pendingFrom(t, db, ""); n != 0 {
		t.Fatalf("%d messages kept after all were acknowledged, want 0", n)
	}
}
