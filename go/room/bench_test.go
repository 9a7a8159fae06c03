//go:build unix

// State and storage benchmarks: what a join and a message cost in rows,
// bytes and time as a room grows. Run:
//
//	go test -run '^$' -bench . -benchtime 1x ./go/room/
//
// Each prints JSON rows to stdout, starting with {"bench": (bench/state.js
// turns them into npm run bench rows):
//
//	{"bench":"state.join","mode":"local","members":N,"rows_per_join":…,"bytes_per_join":…,"ms_per_join":…,"cpu_ms_per_join":…}
//	{"bench":"state.join.all","mode":"local","members":1000,…the same fields}
//	{"bench":"state.message","messages":N,"rows_per_message":…,"bytes_per_message":…,"json_bytes_per_message":…,"ms_per_message":…,"cpu_ms_per_message":…}
//	{"bench":"state.lookup","members":N,"what":…,"ms":…}
//
// Figures at N members are over the joins just before the Nth (a window of
// up to 50: bytes move by whole 4 KiB pages), so a cost that grows with the
// room shows as a growing row; state.join.all is over every join.
package room

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/matrix-org/gomatrixserverlib/spec"
)

// sizes are the room sizes the join rows are reported at.
var sizes = []int{10, 100, 1000}

// window measures a stretch of equal operations: rows, bytes and time per
// op, as wall time and as the process's CPU time (steadier on a shared
// machine; it includes the garbage collector's).
type window struct {
	p           *peer
	rows, bytes int64 // at the start
	ops         int
	elapsed     time.Duration
	cpu         time.Duration
}

func startWindow(tb testing.TB, p *peer) *window {
	w := &window{p: p}
	w.rows, w.bytes = dbSize(tb, p)
	return w
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// timed runs one operation, counting its time.
func (w *window) timed(op func()) {
	start, cpu := time.Now(), cpuTime()
	op()
	w.add(time.Since(start), cpuTime()-cpu)
}

// add counts one operation that took d (cpu of it on the CPU); a nil window
// counts nothing.
func (w *window) add(d, cpu time.Duration) {
	if w != nil {
		w.elapsed += d
		w.cpu += cpu
		w.ops++
	}
}

func (w *window) row(tb testing.TB, fields map[string]any, per string) map[string]any {
	rows, bytes := dbSize(tb, w.p)
	fields["rows_per_"+per] = float64(rows-w.rows) / float64(w.ops)
	fields["bytes_per_"+per] = float64(bytes-w.bytes) / float64(w.ops)
	fields["ms_per_"+per] = float64(w.elapsed.Microseconds()) / 1000 / float64(w.ops)
	fields["cpu_ms_per_"+per] = float64(w.cpu.Microseconds()) / 1000 / float64(w.ops)
	return fields
}

func benchRow(row map[string]any) {
	raw, _ := json.Marshal(row)
	fmt.Println(string(raw))
}

// joinWindow is how many joins before each size are measured.
func joinWindow(size int) int { return min(50, size-1) }

// BenchmarkStateJoins joins 1,000 users one by one: locally (users of the
// room's server) and over federation (users of a second server, each join
// made there and received by the room's server as a transaction would bring
// it; rows and time are the receiving server's).
func BenchmarkStateJoins(b *testing.B) {
	for b.Loop() {
		benchLocalJoins(b)
		benchRemoteJoins(b)
	}
}

func benchLocalJoins(b *testing.B) {
	ctx := context.Background()
	a := newPeer(b, 1, "")
	alice := a.user("alice")
	roomID, err := a.rooms.Perform.Create(ctx, alice, CreateRequest{Preset: PresetPublicChat})
	if err != nil {
		b.Fatal(err)
	}
	members := 1
	all := startWindow(b, a)
	join := func(w *window) {
		u := a.user(fmt.Sprintf("user%d", members))
		all.timed(func() {
			start, cpu := time.Now(), cpuTime()
			if _, err := a.rooms.Perform.SetMembership(ctx, u, roomID, u, spec.Join, ""); err != nil {
				b.Fatal(err)
			}
			w.add(time.Since(start), cpuTime()-cpu)
		})
		members++
	}
	for _, size := range sizes {
		for members < size-joinWindow(size) {
			join(nil)
		}
		w := startWindow(b, a)
		for members < size {
			join(w)
		}
		benchRow(w.row(b, map[string]any{"bench": "state.join", "mode": "local", "members": size}, "join"))
		benchLookups(b, a, alice, roomID, size)
	}
	benchRow(all.row(b, map[string]any{"bench": "state.join.all", "mode": "local", "members": members}, "join"))
}

func benchRemoteJoins(b *testing.B) {
	ctx := context.Background()
	a, other := newPeer(b, 1, ""), newPeer(b, 2, "")
	alice := a.user("alice")
	roomID, err := a.rooms.Perform.Create(ctx, alice, CreateRequest{Preset: PresetPublicChat})
	if err != nil {
		b.Fatal(err)
	}
	other.joinVia(other.user("user1"), roomID, a)
	members := 2
	all := startWindow(b, a)
	join := func(w *window) {
		u := other.user(fmt.Sprintf("user%d", members))
		id, err := other.rooms.Perform.SetMembership(ctx, u, roomID, u, spec.Join, "")
		if err != nil {
			b.Fatal(err)
		}
		ev := other.event(roomID, id)
		all.timed(func() {
			start, cpu := time.Now(), cpuTime()
			a.deliver(ev)
			w.add(time.Since(start), cpuTime()-cpu)
		})
		members++
	}
	for _, size := range sizes {
		for members < size-joinWindow(size) {
			join(nil)
		}
		w := startWindow(b, a)
		for members < size {
			join(w)
		}
		benchRow(w.row(b, map[string]any{"bench": "state.join", "mode": "federation", "members": size}, "join"))
		benchForkMerge(b, a, other, roomID, size)
	}
	benchRow(all.row(b, map[string]any{"bench": "state.join.all", "mode": "federation", "members": members}, "join"))
}

// benchForkMerge times state resolution at size members: a state event on
// each server at once (a topic on a, a join on other), then other's next
// event, which names both as prev events. The room's server resolves the fork
// when the join arrives and again for the merging event: two whole states each.
func benchForkMerge(b *testing.B, a, other *peer, roomID string, size int) {
	ctx := context.Background()
	empty := ""
	topic := a.send(a.user("alice"), roomID, spec.MRoomTopic, &empty, fmt.Sprintf(`{"topic":"fork at %d"}`, size))
	u := other.user(fmt.Sprintf("fork%d", size))
	id, err := other.rooms.Perform.SetMembership(ctx, u, roomID, u, spec.Join, "")
	if err != nil {
		b.Fatal(err)
	}
	forked := other.event(roomID, id)
	other.deliver(topic)
	merge := other.send(u, roomID, "m.room.message", nil, `{"msgtype":"m.text","body":"merged"}`)
	start := time.Now()
	a.deliver(forked, merge)
	benchRow(map[string]any{"bench": "state.lookup", "members": size, "what": "fork_resolve_and_merge",
		"ms": float64(time.Since(start).Microseconds()) / 1000})
}

// benchLookups times reading state at an event of a room of size members:
// the state group before the newest join alone (event IDs: state_ids), the
// whole state with its auth chain (state, send_join), the members at a
// position (/members?at=), and the auth events of a new event (every send).
func benchLookups(b *testing.B, p *peer, user spec.UserID, roomID string, size int) {
	ctx := context.Background()
	events, _, err := p.rooms.Query.Timeline(ctx, roomID, spec.UserID{}, "", 0, 1<<62, 1)
	if err != nil || len(events) == 0 {
		b.Fatal("no timeline", err)
	}
	last := events[0]
	const runs = 5
	timeIt := func(what string, op func() error) {
		start := time.Now()
		for range runs {
			if err := op(); err != nil {
				b.Fatalf("%s: %v", what, err)
			}
		}
		benchRow(map[string]any{"bench": "state.lookup", "members": size, "what": what,
			"ms": float64(time.Since(start).Microseconds()) / 1000 / runs})
	}
	timeIt("state_group_load", func() error {
		var group int64
		err := p.db.QueryRow(ctx, `SELECT state_before FROM events WHERE event_id = ?`, last.EventID()).Scan(&group)
		if err == nil {
			var s stateMap
			if s, err = loadState(ctx, reader{p.db}, group); err == nil && len(s) < size {
				err = fmt.Errorf("%d keys, want at least %d", len(s), size)
			}
		}
		return err
	})
	timeIt("members_at", func() error {
		m, err := p.rooms.Query.Members(ctx, user, roomID, last.Pos-1, "", "")
		if err == nil && len(m) < size-1 {
			err = fmt.Errorf("%d members, want %d", len(m), size-1)
		}
		return err
	})
	timeIt("state_and_auth_chain_at", func() error {
		_, _, err := p.rooms.Query.StateBefore(ctx, roomID, last.EventID())
		return err
	})
	sk := "@x:" + string(p.name)
	timeIt("join_template", func() error {
		_, err := p.rooms.Perform.Template(ctx, roomID, userID(b, sk), spec.MRoomMember, &sk, json.RawMessage(`{"membership":"join"}`))
		return err
	})
}

// BenchmarkStateMessages sends 1,000 messages of a 200-byte body, each with
// a client transaction ID as the client API does, into a room of 10 members.
func BenchmarkStateMessages(b *testing.B) {
	for b.Loop() {
		ctx := context.Background()
		a := newPeer(b, 1, "")
		alice := a.user("alice")
		roomID, err := a.rooms.Perform.Create(ctx, alice, CreateRequest{Preset: PresetPublicChat})
		if err != nil {
			b.Fatal(err)
		}
		for i := range 9 {
			u := a.user(fmt.Sprintf("user%d", i))
			if _, err := a.rooms.Perform.SetMembership(ctx, u, roomID, u, spec.Join, ""); err != nil {
				b.Fatal(err)
			}
		}
		const messages = 1000
		body := strings.Repeat("x", 200)
		content := json.RawMessage(`{"msgtype":"m.text","body":"` + body + `"}`)
		w := startWindow(b, a)
		var jsonBytes int
		for i := range messages {
			var id string
			w.timed(func() {
				if id, err = a.rooms.Perform.Send(ctx, alice, "DEVICE", fmt.Sprintf("txn%d", i), roomID, "m.room.message", nil, content); err != nil {
					b.Fatal(err)
				}
			})
			jsonBytes += len(a.event(roomID, id).JSON())
		}
		row := w.row(b, map[string]any{"bench": "state.message", "messages": messages}, "message")
		row["json_bytes_per_message"] = float64(jsonBytes) / messages
		benchRow(row)
	}
}
