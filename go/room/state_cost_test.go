package room

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/matrix-org/gomatrixserverlib/spec"
)

// dbSize returns the number of rows in every table and the bytes of the
// pages in use (the file's pages minus its free list).
func dbSize(tb testing.TB, p *peer) (rows, bytes int64) {
	tb.Helper()
	ctx := context.Background()
	list, err := p.db.Query(ctx, `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`)
	if err != nil {
		tb.Fatal(err)
	}
	var tables []string
	for list.Next() {
		var name string
		if err := list.Scan(&name); err != nil {
			tb.Fatal(err)
		}
		tables = append(tables, name)
	}
	list.Close()
	for _, t := range tables {
		var n int64
		if err := p.db.QueryRow(ctx, `SELECT COUNT(*) FROM `+t).Scan(&n); err != nil {
			tb.Fatal(err)
		}
		rows += n
	}
	var pages, free, pageSize int64
	for pragma, dst := range map[string]*int64{"page_count": &pages, "freelist_count": &free, "page_size": &pageSize} {
		if err := p.db.QueryRow(ctx, `PRAGMA `+pragma).Scan(dst); err != nil {
			tb.Fatal(err)
		}
	}
	return rows, (pages - free) * pageSize
}

// A join adds a constant number of rows however big the room, locally and
// when received over federation (the O(1) the old design missed: each state
// event copied the room's state), and joins cost at most twice the bytes of
// as many messages. For the first half the two servers see each other's
// joins (a linear room); for the second, each server's join forks from the
// other's, and the resolved state is stored as a delta of the keys that differ.
func TestJoinsAddConstantRows(t *testing.T) {
	const joins = 120
	// The event, its state group, its current_state row, and one spare; a
	// fork adds a resolved group and its two entries.
	const maxRowsPerJoin, maxRowsPerForkedJoin = 4, 8
	ctx := context.Background()
	a, b := newPeer(t, 1, ""), newPeer(t, 2, "")
	alice := a.user("alice")
	roomID, err := a.rooms.Perform.Create(ctx, alice, CreateRequest{Preset: PresetPublicChat})
	if err != nil {
		t.Fatal(err)
	}
	b.joinVia(b.user("remote0"), roomID, a)
	check := func(p *peer, what string, i int, join func()) {
		rows, _ := dbSize(t, p)
		join()
		after, _ := dbSize(t, p)
		limit := int64(maxRowsPerJoin)
		if i > joins/2 {
			limit = maxRowsPerForkedJoin
		}
		if i >= 10 && after-rows > limit {
			t.Fatalf("%s join %d added %d rows, want at most %d", what, i, after-rows, limit)
		}
	}
	_, startBytes := dbSize(t, a)
	for i := 1; i <= joins; i++ {
		local, remote := a.user(fmt.Sprintf("local%d", i)), b.user(fmt.Sprintf("remote%d", i))
		var localID string
		check(a, "local", i, func() {
			if localID, err = a.rooms.Perform.SetMembership(ctx, local, roomID, local, spec.Join, ""); err != nil {
				t.Fatal(err)
			}
		})
		if i <= joins/2 {
			b.deliver(a.event(roomID, localID))
		}
		id, err := b.rooms.Perform.SetMembership(ctx, remote, roomID, remote, spec.Join, "")
		if err != nil {
			t.Fatal(err)
		}
		ev := b.event(roomID, id)
		check(a, "received", i, func() { a.deliver(ev) })
	}
	_, joinedBytes := dbSize(t, a)
	content := json.RawMessage(`{"msgtype":"m.text","body":"` + strings.Repeat("x", 200) + `"}`)
	for i := range 2 * joins {
		if _, err := a.rooms.Perform.Send(ctx, alice, "DEV", fmt.Sprint(i), roomID, "m.room.message", nil, content); err != nil {
			t.Fatal(err)
		}
	}
	_, sentBytes := dbSize(t, a)
	joinBytes, messageBytes := joinedBytes-startBytes, sentBytes-joinedBytes
	t.Logf("%d joins: %d bytes; as many messages: %d bytes", 2*joins, joinBytes, messageBytes)
	if joinBytes > 2*messageBytes {
		t.Errorf("%d joins took %d bytes, more than twice the %d of as many messages", 2*joins, joinBytes, messageBytes)
	}
}

// A room whose few keys change again and again (a topic set 300 times) cuts
// its delta chains with full snapshots, so loading its state reads a bounded
// number of rows, and the state stays right.
func TestLongChainsGetSnapshots(t *testing.T) {
	ctx := context.Background()
	a := newPeer(t, 1, "")
	alice := a.user("alice")
	roomID, err := a.rooms.Perform.Create(ctx, alice, CreateRequest{Preset: PresetPublicChat})
	if err != nil {
		t.Fatal(err)
	}
	empty := ""
	var last string
	for i := range 300 {
		last = a.send(alice, roomID, spec.MRoomTopic, &empty, fmt.Sprintf(`{"topic":"topic %d"}`, i)).EventID()
	}
	var group, size, chainRows, snapshots int64
	if err := a.db.QueryRow(ctx, `SELECT r.current_state_group, g.size, g.chain_rows FROM rooms r JOIN state_groups g ON g.group_id = r.current_state_group
		WHERE r.room_id = ?`, roomID).Scan(&group, &size, &chainRows); err != nil {
		t.Fatal(err)
	}
	if err := a.db.QueryRow(ctx, `SELECT COUNT(*) FROM state_groups WHERE prev_group IS NULL`).Scan(&snapshots); err != nil {
		t.Fatal(err)
	}
	if chainTooLong(chainRows, size) {
		t.Errorf("current group reads %d rows for %d keys", chainRows, size)
	}
	if snapshots < 2 || snapshots > 10 {
		t.Errorf("%d full snapshots for 300 changes of a %d-key state, want a few", snapshots, size)
	}
	s, err := loadState(ctx, reader{a.db}, group)
	if err != nil {
		t.Fatal(err)
	}
	table, err := currentStateRows(ctx, reader{a.db}, roomID)
	if err != nil {
		t.Fatal(err)
	}
	if !sameState(s, table) || s[stateKey{spec.MRoomTopic, ""}] != last {
		t.Errorf("state after 300 topics: %v, current_state %v", s, table)
	}
}

// A delta group can drop a key (a state resolution may) and change another;
// loading it and diffing it against its base read back exactly that.
func TestDeltaGroupDropsAndChangesKeys(t *testing.T) {
	ctx := context.Background()
	a := newPeer(t, 1, "")
	full := stateMap{{"t", "a"}: "$a", {"t", "b"}: "$b", {"t", "c"}: "$c"}
	next := stateMap{{"t", "a"}: "$a", {"t", "c"}: "$c2", {"t", "d"}: "$d"}
	err := a.db.Write(ctx, func(tx *sql.Tx) error {
		base, err := insertStateGroup(ctx, tx, full, nil, nil)
		if err != nil {
			return err
		}
		g, err := readStateGroup(ctx, tx, base)
		if err != nil {
			return err
		}
		id, err := insertStateGroup(ctx, tx, next, &g, full)
		if err != nil {
			return err
		}
		got, err := loadState(ctx, tx, id)
		if err != nil {
			return err
		}
		if !sameState(got, next) {
			t.Errorf("loaded %v, want %v", got, next)
		}
		changes, ok, err := groupChanges(ctx, tx, base, id)
		if err != nil {
			return err
		}
		want := stateMap{{"t", "b"}: "", {"t", "c"}: "$c2", {"t", "d"}: "$d"}
		if !ok || !sameState(changes, want) {
			t.Errorf("changes %v (%v), want %v", changes, ok, want)
		}
		var entries int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM state_group_entries WHERE group_id = ?`, id).Scan(&entries); err != nil {
			return err
		}
		if entries != 3 {
			t.Errorf("delta group has %d entries, want 3", entries)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
