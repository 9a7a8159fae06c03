package room

import (
	"context"
	"database/sql"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"

	"hearth/go/storage"
)

// schema5ServerStates is one server's part of testdata/schema5_states.json:
// the state before and after every event of forkScenario, and the current
// state, as the old design (a full snapshot per state event, schema version
// 5) stored them. Entries read "type|state_key|event_id".
type schema5ServerStates struct {
	Events  map[string]struct{ Before, After []string } `json:"events"`
	Current []string                                    `json:"current"`
}

func readSchema5States(t *testing.T) (roomID string, servers map[string]schema5ServerStates) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "schema5_states.json"))
	if err != nil {
		t.Fatal(err)
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(raw, &all); err != nil {
		t.Fatal(err)
	}
	servers = map[string]schema5ServerStates{}
	for name, v := range all {
		if name == "room_id" {
			if err := json.Unmarshal(v, &roomID); err != nil {
				t.Fatal(err)
			}
			continue
		}
		var s schema5ServerStates
		if err := json.Unmarshal(v, &s); err != nil {
			t.Fatal(err)
		}
		servers[name] = s
	}
	return roomID, servers
}

// stateList is a group's state in the fixture's form, sorted.
func stateList(t *testing.T, p *peer, group int64) []string {
	t.Helper()
	s, err := loadState(context.Background(), reader{p.db}, group)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for k, id := range s {
		out = append(out, k.Type+"|"+k.StateKey+"|"+id)
	}
	slices.Sort(out)
	return out
}

// checkStates compares the state before and after every event, and the
// current state (both the group and the current_state table), with the old
// design's.
func checkStates(t *testing.T, p *peer, roomID string, want schema5ServerStates) {
	t.Helper()
	ctx := context.Background()
	rows, err := p.db.Query(ctx, `SELECT event_id, state_before, state_after FROM events WHERE state_before IS NOT NULL`)
	if err != nil {
		t.Fatal(err)
	}
	type ba struct{ before, after int64 }
	got := map[string]ba{}
	for rows.Next() {
		var id string
		var x ba
		if err := rows.Scan(&id, &x.before, &x.after); err != nil {
			t.Fatal(err)
		}
		got[id] = x
	}
	rows.Close()
	if len(got) != len(want.Events) {
		t.Errorf("%s: state known at %d events, want %d", p.name, len(got), len(want.Events))
	}
	for id, w := range want.Events {
		g, ok := got[id]
		if !ok {
			t.Errorf("%s: no state at %s", p.name, id)
			continue
		}
		if s := stateList(t, p, g.before); !slices.Equal(s, w.Before) {
			t.Errorf("%s: state before %s:\n got %v\nwant %v", p.name, id, s, w.Before)
		}
		if s := stateList(t, p, g.after); !slices.Equal(s, w.After) {
			t.Errorf("%s: state after %s:\n got %v\nwant %v", p.name, id, s, w.After)
		}
	}
	var current int64
	if err := p.db.QueryRow(ctx, `SELECT current_state_group FROM rooms WHERE room_id = ?`, roomID).Scan(&current); err != nil {
		t.Fatal(err)
	}
	if s := stateList(t, p, current); !slices.Equal(s, want.Current) {
		t.Errorf("%s: current state group:\n got %v\nwant %v", p.name, s, want.Current)
	}
	table, err := currentStateRows(ctx, reader{p.db}, roomID)
	if err != nil {
		t.Fatal(err)
	}
	var list []string
	for k, id := range table {
		list = append(list, k.Type+"|"+k.StateKey+"|"+id)
	}
	slices.Sort(list)
	if !slices.Equal(list, want.Current) {
		t.Errorf("%s: current_state table:\n got %v\nwant %v", p.name, list, want.Current)
	}
}

// State stored as deltas gives, at every event of a room with forks resolved
// by state resolution v2 (concurrent topics, a ban racing a demotion, power
// changes, a join over federation), the state the old full snapshots gave.
func TestStateMatchesFullSnapshots(t *testing.T) {
	wantRoom, want := readSchema5States(t)
	a, b := newPeer(t, 1, ""), newPeer(t, 2, "")
	roomID := forkScenario(a, b)
	if roomID != wantRoom {
		t.Fatalf("the scenario made room %s, the fixture has %s: not deterministic", roomID, wantRoom)
	}
	for name, p := range map[string]*peer{"a": a, "b": b} {
		t.Run(name, func(t *testing.T) { checkStates(t, p, roomID, want[name]) })
	}
}

// A database written by the old design (schema 5: the fixture's table dumps)
// migrates to state groups with every state unchanged, far fewer rows, and
// keeps working: both servers go on sending and receiving over the migrated
// state.
func TestMigrateFullSnapshotsToStateGroups(t *testing.T) {
	if runtime.GOOS == "js" {
		t.Skip("a wasm test binary has one sql.js database (hearthStorage), so each server needs a native file")
	}
	ctx := context.Background()
	roomID, want := readSchema5States(t)
	peers := map[string]*peer{}
	for i, name := range []string{"a", "b"} {
		path := filepath.Join(t.TempDir(), "hearth.db")
		old, err := storage.OpenAtVersion(ctx, path, 5)
		if err != nil {
			t.Fatal(err)
		}
		dump, err := os.ReadFile(filepath.Join("testdata", "schema5_"+name+".sql"))
		if err != nil {
			t.Fatal(err)
		}
		if err := old.Write(ctx, func(tx *sql.Tx) error { _, err := tx.ExecContext(ctx, string(dump)); return err }); err != nil {
			t.Fatalf("load the schema-5 dump of %s: %v", name, err)
		}
		var snapshotRows int
		if err := old.QueryRow(ctx, `SELECT COUNT(*) FROM state_entries`).Scan(&snapshotRows); err != nil {
			t.Fatal(err)
		}
		old.Close()
		p := newPeer(t, byte(i+1), path)
		peers[name] = p
		t.Run(name, func(t *testing.T) {
			checkStates(t, p, roomID, want[name])
			var groupRows int
			if err := p.db.QueryRow(ctx, `SELECT (SELECT COUNT(*) FROM state_groups) + (SELECT COUNT(*) FROM state_group_entries)`).Scan(&groupRows); err != nil {
				t.Fatal(err)
			}
			t.Logf("%d snapshot entries became %d state group rows", snapshotRows, groupRows)
			if groupRows*2 > snapshotRows {
				t.Errorf("%d state group rows after migrating %d snapshot entries: want fewer than half", groupRows, snapshotRows)
			}
		})
	}
	a, b := peers["a"], peers["b"]
	empty := ""
	topic := a.send(a.user("alice"), roomID, "m.room.topic", &empty, `{"topic":"migrated"}`)
	b.deliver(topic)
	b.deliver(a.send(a.user("alice"), roomID, "m.room.message", nil, `{"msgtype":"m.text","body":"after the migration"}`))
	a.deliver(b.send(b.user("bob"), roomID, "m.room.message", nil, `{"msgtype":"m.text","body":"seen"}`))
	for name, p := range peers {
		if got := mustCurrent(p, roomID, "m.room.topic", ""); got != topic.EventID() {
			t.Errorf("%s: topic %s after the migration, want %s", name, got, topic.EventID())
		}
	}
}
