package syncapi

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/matrix-org/gomatrixserverlib/spec"

	"hearth/go/accountdata"
	"hearth/go/ephemeral"
	"hearth/go/identity"
	"hearth/go/keys"
	"hearth/go/room"
	"hearth/go/storage"
)

// Issue 13's account: initial sync of 50 rooms holding 10,000 events in all
// should take at most 50 ms natively. bench/native.js (the sync.initial row)
// runs this benchmark and reports its p50.
const (
	benchRooms         = 50
	benchEventsPerRoom = 200 // with each room's ~7 creation events: ≥ 10,000 in all
)

// BenchmarkInitialSync measures one initial /sync (no since token, the
// default filter) of a user in benchRooms rooms, including encoding the
// answer as the HTTP handler does. The database lives in /dev/shm when there
// is one: filling it is 10,000 durable sends, and only reading is measured.
func BenchmarkInitialSync(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		if dir, err = os.MkdirTemp("/dev/shm", "hearth-sync-bench-"); err != nil {
			b.Fatal(err)
		}
		defer os.RemoveAll(dir)
	}
	db, err := storage.Open(ctx, filepath.Join(dir, "hearth.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	id, err := identity.Generate(rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	notifier := NewNotifier(Token{})
	rooms := room.New(db, id, room.Options{Appended: notifier.Advance})
	user, err := spec.NewUserID("@alice:"+string(id.ServerName), true)
	if err != nil {
		b.Fatal(err)
	}
	for i := range benchRooms {
		roomID, err := rooms.Create(ctx, *user, room.CreateRequest{Name: fmt.Sprint("room ", i)})
		if err != nil {
			b.Fatal(err)
		}
		for j := range benchEventsPerRoom {
			body := json.RawMessage(fmt.Sprintf(`{"msgtype":"m.text","body":"message %d of room %d"}`, j, i))
			if _, err := rooms.Send(ctx, *user, "DEV", fmt.Sprint(i, "-", j), roomID, "m.room.message", nil, body); err != nil {
				b.Fatal(err)
			}
		}
	}
	syncer := New(rooms, notifier, Sources{
		AccountData: accountdata.New(db, nil),
		Ephemeral:   ephemeral.New(db, ephemeral.Options{}),
		Keys:        keys.New(db, id.ServerName, keys.Options{}),
	})

	var took []time.Duration
	for b.Loop() {
		began := time.Now()
		res, err := syncer.Sync(ctx, Request{User: *user, DeviceID: "DEV"})
		if err != nil {
			b.Fatal(err)
		}
		if len(res.Rooms.Join) != benchRooms {
			b.Fatalf("%d joined rooms, want %d", len(res.Rooms.Join), benchRooms)
		}
		if _, err := json.Marshal(res); err != nil {
			b.Fatal(err)
		}
		took = append(took, time.Since(began))
	}
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "p50-ms")
}
