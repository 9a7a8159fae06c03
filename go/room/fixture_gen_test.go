package room

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Run once on the old design (schema 5, full state snapshots) to write
// testdata/schema5: HEARTH_WRITE_SCHEMA5_FIXTURE=1 go test -run TestWriteSchema5Fixture ./go/room/
func TestWriteSchema5Fixture(t *testing.T) {
	if os.Getenv("HEARTH_WRITE_SCHEMA5_FIXTURE") == "" {
		t.Skip("writes the fixture only when asked")
	}
	a, b := newPeer(t, 1, ""), newPeer(t, 2, "")
	roomID := forkScenario(a, b)
	out := map[string]any{"room_id": roomID}
	for _, p := range []struct {
		name string
		peer *peer
	}{{"a", a}, {"b", b}} {
		dump := dumpTables(t, p.peer)
		if err := os.WriteFile(filepath.Join("testdata", "schema5_"+p.name+".sql"), []byte(dump), 0o644); err != nil {
			t.Fatal(err)
		}
		out[p.name] = oldStates(t, p.peer, roomID)
	}
	raw, _ := json.MarshalIndent(out, "", " ")
	if err := os.WriteFile(filepath.Join("testdata", "schema5_states.json"), raw, 0o644); err != nil {
		t.Fatal(err)
	}
}

func oldStates(t *testing.T, p *peer, roomID string) map[string]any {
	ctx := context.Background()
	q := reader{p.db}
	rows, err := p.db.Query(ctx, `SELECT event_id, state_before, state_after FROM events WHERE state_before IS NOT NULL`)
	if err != nil {
		t.Fatal(err)
	}
	type ba struct{ before, after int64 }
	byID := map[string]ba{}
	for rows.Next() {
		var id string
		var x ba
		if err := rows.Scan(&id, &x.before, &x.after); err != nil {
			t.Fatal(err)
		}
		byID[id] = x
	}
	rows.Close()
	list := func(snap int64) []string {
		s, err := loadSnapshot(ctx, q, snap)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for k, id := range s {
			ids = append(ids, k.Type+"|"+k.StateKey+"|"+id)
		}
		slices.Sort(ids)
		return ids
	}
	events := map[string]any{}
	for id, x := range byID {
		events[id] = map[string][]string{"before": list(x.before), "after": list(x.after)}
	}
	var cur int64
	if err := p.db.QueryRow(ctx, `SELECT current_snapshot FROM rooms WHERE room_id = ?`, roomID).Scan(&cur); err != nil {
		t.Fatal(err)
	}
	return map[string]any{"events": events, "current": list(cur)}
}

func dumpTables(t *testing.T, p *peer) string {
	ctx := context.Background()
	var sb strings.Builder
	for _, table := range []string{"rooms", "events", "state_snapshots", "state_entries", "current_state", "room_extremities", "event_edges", "transaction_ids", "invite_state"} {
		rows, err := p.db.Query(ctx, `SELECT * FROM `+table)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			lits := make([]string, len(vals))
			for i, v := range vals {
				switch x := v.(type) {
				case nil:
					lits[i] = "NULL"
				case int64:
					lits[i] = fmt.Sprint(x)
				case []byte:
					lits[i] = "X'" + fmt.Sprintf("%X", x) + "'"
				case string:
					lits[i] = "'" + strings.ReplaceAll(x, "'", "''") + "'"
				default:
					t.Fatalf("%T", v)
				}
			}
			fmt.Fprintf(&sb, "INSERT INTO %s (%s) VALUES (%s);\n", table, strings.Join(cols, ", "), strings.Join(lits, ", "))
		}
		rows.Close()
	}
	return sb.String()
}
