package ephemeral

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/matrix-org/gomatrixserverlib/spec"

	"hearth/go/storage"
)

// /sync reads the receipts of all of a user's joined rooms at once: each
// room gets its own content, others' private receipts stay hidden, and
// rooms not asked for or receipts outside the range are left out.
func TestReceiptsOfSeveralRoomsInOneRead(t *testing.T) {
	ctx := context.Background()
	db, err := storage.Open(ctx, filepath.Join(t.TempDir(), "hearth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	var pos int64
	e := New(db, Options{DataAdvanced: func(p int64) { pos = p }})
	alice, bob := spec.NewUserIDOrPanic("@alice:example.org", false), spec.NewUserIDOrPanic("@bob:example.org", false)
	set := func(roomID, receiptType string, user spec.UserID, eventID, threadID string) {
		t.Helper()
		if err := e.ReceiveReceipt(ctx, roomID, receiptType, user, eventID, threadID, 1000); err != nil {
			t.Fatal(err)
		}
	}
	set("!a:example.org", ReceiptRead, bob, "$before", "")
	after := pos
	set("!a:example.org", ReceiptRead, bob, "$a1", "")
	set("!a:example.org", ReceiptReadPrivate, bob, "$a1", "") // bob's own: hidden from alice
	set("!b:example.org", ReceiptReadPrivate, alice, "$b1", "")
	set("!b:example.org", ReceiptRead, bob, "$b1", "$thread")
	set("!c:example.org", ReceiptRead, bob, "$c1", "") // alice did not ask for it
	got, err := e.Receipts(ctx, []string{"!a:example.org", "!b:example.org", "!quiet:example.org"}, alice, after, pos)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"!a:example.org": `{"$a1":{"m.read":{"@bob:example.org":{"ts":1000}}}}`,
		"!b:example.org": `{"$b1":{"m.read":{"@bob:example.org":{"thread_id":"$thread","ts":1000}},"m.read.private":{"@alice:example.org":{"ts":1000}}}}`,
	}
	if len(got) != len(want) {
		t.Fatalf("receipts of %d rooms, want %d: %s", len(got), len(want), marshal(t, got))
	}
	for roomID, w := range want {
		if string(got[roomID]) != w {
			t.Errorf("%s: %s\nwant %s", roomID, got[roomID], w)
		}
	}
	if none, err := e.Receipts(ctx, []string{"!a:example.org"}, alice, pos, pos); err != nil || len(none) != 0 {
		t.Fatalf("an empty range: %s, %v", marshal(t, none), err)
	}
}

func marshal(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
