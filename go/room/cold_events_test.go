package room

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/matrix-org/gomatrixserverlib/spec"
)

// memoryColdStore is a ColdStore in a map; failPut, if set, is asked before
// each put and may refuse it, or act meanwhile (a crash, a redaction).
type memoryColdStore struct {
	mu      sync.Mutex
	json    map[int64][]byte
	failPut func(pos int64) error
	failGet error // if set, every read fails with it
}

func newMemoryColdStore() *memoryColdStore { return &memoryColdStore{json: map[int64][]byte{}} }

func (s *memoryColdStore) PutEventJSON(ctx context.Context, pos int64, raw []byte) error {
	if s.failPut != nil {
		if err := s.failPut(pos); err != nil {
			return err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.json[pos] = append([]byte(nil), raw...)
	return nil
}

func (s *memoryColdStore) EventJSON(ctx context.Context, pos int64) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failGet != nil {
		return nil, s.failGet
	}
	raw, ok := s.json[pos]
	if !ok {
		return nil, fmt.Errorf("no JSON for %d: %w", pos, fs.ErrNotExist)
	}
	return raw, nil
}

func (s *memoryColdStore) DeleteEventJSON(ctx context.Context, pos int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.json, pos)
	return nil
}

func (s *memoryColdStore) has(pos int64) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	raw, ok := s.json[pos]
	return raw, ok
}

// coldRoom is a room with n messages from alice ("message <i> word<i>",
// padded), in a server whose cold events go to the returned store.
func coldRoom(t *testing.T, n int) (rooms *Rooms, store *memoryColdStore, alice spec.UserID, roomID string, ids []string) {
	t.Helper()
	if runtime.GOOS == "js" {
		// The mover moves every room's events, and its store is the test's.
		// js/peer/cold-events.test.js runs the wasm build's.
		t.Skip("a wasm test binary has one sql.js database (hearthStorage), shared with other tests' rooms")
	}
	ctx := context.Background()
	store = newMemoryColdStore()
	rooms, id := newRoomsWith(t, Options{ColdStore: store})
	if err := rooms.Perform.db.GiveBackFreedPages(ctx); err != nil {
		t.Fatal(err)
	}
	alice = userID(t, "@alice:"+string(id.ServerName))
	roomID, err := rooms.Perform.Create(ctx, alice, CreateRequest{Preset: PresetPublicChat})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		body := fmt.Sprintf("message %d word%d %s", i, i, strings.Repeat("padding ", 100))
		evID, err := rooms.Perform.Send(ctx, alice, "DEV", fmt.Sprintf("cold%d", i), roomID, "m.room.message", nil,
			mustJSON(map[string]any{"msgtype": "m.text", "body": body}))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, evID)
	}
	return rooms, store, alice, roomID, ids
}

// moveAllCold moves every event due now; it returns how many it moved.
func moveAllCold(ctx context.Context, rooms *Rooms, opts ColdOptions) (int, error) {
	moved, _, err := rooms.Perform.moveDue(ctx, 0, opts)
	return moved, err
}

// coldPositions lists the events whose rows hold no JSON.
func coldPositions(t *testing.T, rooms *Rooms) []int64 {
	t.Helper()
	rows, err := rooms.Query.db.Query(context.Background(), `SELECT stream_pos FROM events WHERE json = X'7B7D' ORDER BY stream_pos`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var pos int64
		if err := rows.Scan(&pos); err != nil {
			t.Fatal(err)
		}
		out = append(out, pos)
	}
	return out
}

func databaseBytes(t *testing.T, rooms *Rooms) int64 {
	t.Helper()
	var n int64
	if err := rooms.Query.db.QueryRow(context.Background(), `SELECT page_count * page_size FROM pragma_page_count, pragma_page_size`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// eventRowOf is every column of an event's row, by name.
func eventRowOf(t *testing.T, rooms *Rooms, eventID string) map[string]any {
	t.Helper()
	rows, err := rooms.Query.db.Query(context.Background(), `SELECT * FROM events WHERE event_id = ?`, eventID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	if !rows.Next() {
		t.Fatalf("no row for %s", eventID)
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		t.Fatal(err)
	}
	out := map[string]any{}
	for i, c := range cols {
		out[c] = vals[i]
	}
	return out
}

func bodyOf(t *testing.T, content json.RawMessage) string {
	t.Helper()
	var c struct {
		Body string `json:"body"`
	}
	if err := json.Unmarshal(content, &c); err != nil {
		t.Fatal(err)
	}
	return c.Body
}

// Old messages leave the database for the store, the database shrinks, and
// every reader still serves them as they were: /messages, /event,
// /context, search, and backfill over federation.
func TestColdEventsAreServedFromTheStore(t *testing.T) {
	ctx := context.Background()
	rooms, store, alice, roomID, ids := coldRoom(t, 40)
	// A reaction is a relation (aggregations read its sender): it stays.
	reaction, err := rooms.Perform.Send(ctx, alice, "DEV", "r", roomID, "m.reaction", nil,
		mustJSON(map[string]any{"m.relates_to": map[string]any{"rel_type": RelAnnotation, "event_id": ids[0], "key": "👍"}}))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 { // newer than the reaction, so that it is old enough to move
		if _, err := rooms.Perform.Send(ctx, alice, "DEV", fmt.Sprintf("late%d", i), roomID, "m.room.message", nil, mustJSON(map[string]any{"msgtype": "m.text", "body": "late"})); err != nil {
			t.Fatal(err)
		}
	}
	before := databaseBytes(t, rooms)
	rowBefore := eventRowOf(t, rooms, ids[0])

	moved, err := moveAllCold(ctx, rooms, ColdOptions{KeepNewest: 10, Batch: 5})
	if err != nil {
		t.Fatal(err)
	}
	cold := coldPositions(t, rooms)
	if moved != 40 || len(cold) != 40 {
		t.Fatalf("moved %d, %d rows without JSON; want the 40 old messages", moved, len(cold))
	}
	for _, pos := range cold {
		if _, ok := store.has(pos); !ok {
			t.Fatalf("event %d has neither its JSON nor a copy in the store", pos)
		}
	}
	var reactionJSON bool
	if err := rooms.Query.db.QueryRow(ctx, `SELECT json != X'7B7D' FROM events WHERE event_id = ?`, reaction).Scan(&reactionJSON); err != nil || !reactionJSON {
		t.Fatalf("the reaction went cold (%v)", err)
	}
	var movedBytes int64
	for _, pos := range cold {
		raw, _ := store.has(pos)
		movedBytes += int64(len(raw))
	}
	if after := databaseBytes(t, rooms); before-after < movedBytes/2 {
		t.Fatalf("the database went from %d to %d bytes with %d bytes of JSON moved out: freed pages were not given back", before, after, movedBytes)
	}
	// The mover deletes and inserts rows again: every other column is kept.
	rowAfter := eventRowOf(t, rooms, ids[0])
	for col, v := range rowBefore {
		if col != "json" && fmt.Sprint(rowAfter[col]) != fmt.Sprint(v) {
			t.Fatalf("column %s was %v, is %v after the move", col, v, rowAfter[col])
		}
	}

	// /messages, over everything.
	evs, _, _, err := rooms.Query.Messages(ctx, alice, roomID, 0, Forward, 200)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{}
	for _, ev := range evs {
		if ev.Type() == "m.room.message" {
			seen[ev.EventID()] = bodyOf(t, ev.Content())
		}
	}
	for i, id := range ids {
		if !strings.HasPrefix(seen[id], fmt.Sprintf("message %d word%d ", i, i)) {
			t.Fatalf("/messages gave event %d as %q", i, seen[id])
		}
	}
	// /event and /context.
	if ev, err := rooms.Query.Event(ctx, roomID, ids[3]); err != nil || !strings.HasPrefix(bodyOf(t, ev.Content()), "message 3 ") {
		t.Fatalf("/event: %v", err)
	}
	c, err := rooms.Query.Context(ctx, alice, roomID, ids[5], 4)
	if err != nil || c.Event.EventID() != ids[5] || len(c.Before) != 2 || len(c.After) != 2 || bodyOf(t, c.Before[0].Content()) == "" {
		t.Fatalf("/context: %+v, %v", c, err)
	}
	// Search: the index outlives the JSON's move.
	results, _, _, err := rooms.Query.Search(ctx, alice, SearchQuery{Terms: SearchTerms("word7"), Recent: true, Limit: 10})
	if err != nil || len(results) != 1 || results[0].EventID() != ids[7] {
		t.Fatalf("search: %v, %v", results, err)
	}
	// Backfill over federation walks the prev events in the JSON.
	walked, err := rooms.Query.WalkBack(ctx, roomID, []string{ids[len(ids)-1]}, nil, 100, 0, true)
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, ev := range walked {
		if _, ok := seen[ev.EventID()]; ok {
			found++
		}
	}
	if found != len(ids) {
		t.Fatalf("backfill walked %d of the %d cold messages", found, len(ids))
	}
}

// A redaction of a cold event redacts both the row (back in the database)
// and the copy outside, and takes its words out of the search index.
func TestRedactingAColdEvent(t *testing.T) {
	ctx := context.Background()
	rooms, store, alice, roomID, ids := coldRoom(t, 20)
	if _, err := moveAllCold(ctx, rooms, ColdOptions{KeepNewest: 5, Batch: 5}); err != nil {
		t.Fatal(err)
	}
	var pos int64
	if err := rooms.Query.db.QueryRow(ctx, `SELECT stream_pos FROM events WHERE event_id = ? AND json = X'7B7D'`, ids[2]).Scan(&pos); err != nil {
		t.Fatalf("event 2 is not cold: %v", err)
	}
	if _, err := rooms.Perform.Redact(ctx, alice, "DEV", "redact", roomID, ids[2], ""); err != nil {
		t.Fatal(err)
	}
	ev, err := rooms.Query.Event(ctx, roomID, ids[2])
	if err != nil || bodyOf(t, ev.Content()) != "" {
		t.Fatalf("after the redaction: %s, %v", ev.Content(), err)
	}
	if raw, ok := store.has(pos); ok && strings.Contains(string(raw), "word2") {
		t.Fatal("the copy outside the database still holds the redacted content")
	}
	results, _, _, err := rooms.Query.Search(ctx, alice, SearchQuery{Terms: SearchTerms("word2"), Recent: true, Limit: 10})
	if err != nil || len(results) != 0 {
		t.Fatalf("search still finds the redacted words: %v, %v", results, err)
	}
	// Moved again later, it stays redacted.
	if _, err := moveAllCold(ctx, rooms, ColdOptions{KeepNewest: 5, Batch: 1}); err != nil {
		t.Fatal(err)
	}
	if ev, err := rooms.Query.Event(ctx, roomID, ids[2]); err != nil || bodyOf(t, ev.Content()) != "" {
		t.Fatalf("moved again: %v", err)
	}
}

// coldThreadRoot is coldRoom(t, 20) with all but the newest 5 messages
// moved cold, then a thread reply to message 1 (ids[1], at pos), which
// brings it back into the database.
func coldThreadRoot(t *testing.T) (rooms *Rooms, store *memoryColdStore, alice spec.UserID, roomID string, ids []string, pos int64) {
	t.Helper()
	ctx := context.Background()
	rooms, store, alice, roomID, ids = coldRoom(t, 20)
	if _, err := moveAllCold(ctx, rooms, ColdOptions{KeepNewest: 5, Batch: 5}); err != nil {
		t.Fatal(err)
	}
	if err := rooms.Query.db.QueryRow(ctx, `SELECT stream_pos FROM events WHERE event_id = ? AND json = X'7B7D'`, ids[1]).Scan(&pos); err != nil {
		t.Fatalf("event 1 is not cold: %v", err)
	}
	if _, err := rooms.Perform.Send(ctx, alice, "DEV", "thread", roomID, "m.room.message", nil, mustJSON(map[string]any{
		"msgtype": "m.text", "body": "a reply", "m.relates_to": map[string]any{"rel_type": RelThread, "event_id": ids[1]},
	})); err != nil {
		t.Fatal(err)
	}
	return rooms, store, alice, roomID, ids, pos
}

// A cold message that becomes a thread root comes back into the database
// (the thread list reads its sender there) and stays; its copy stays too, in
// case a backup read the database while it was cold.
func TestAColdThreadRootComesBack(t *testing.T) {
	ctx := context.Background()
	rooms, store, alice, roomID, ids, pos := coldThreadRoot(t)
	isCold := func() bool {
		t.Helper()
		var cold bool
		if err := rooms.Query.db.QueryRow(ctx, `SELECT json = X'7B7D' FROM events WHERE stream_pos = ?`, pos).Scan(&cold); err != nil {
			t.Fatal(err)
		}
		return cold
	}
	if isCold() {
		t.Fatal("the thread root is still cold")
	}
	if _, ok := store.has(pos); !ok {
		t.Fatal("the root's copy was deleted: a backup that read the database before the reply would miss it")
	}
	threads, _, _, err := rooms.Query.Threads(ctx, alice, roomID, 0, 10, true)
	if err != nil || len(threads) != 1 || threads[0].EventID() != ids[1] {
		t.Fatalf("threads alice took part in: %v, %v", threads, err)
	}
	if _, err := moveAllCold(ctx, rooms, ColdOptions{KeepNewest: 1, Batch: 1}); err != nil {
		t.Fatal(err)
	}
	if isCold() {
		t.Fatal("a thread root went cold")
	}
	// Redacted now, while in the database, its copy outside is redacted too.
	if _, err := rooms.Perform.Redact(ctx, alice, "DEV", "redact-root", roomID, ids[1], ""); err != nil {
		t.Fatal(err)
	}
	if raw, ok := store.has(pos); ok && strings.Contains(string(raw), "word1") {
		t.Fatal("the copy of a redacted thread root keeps its content")
	}
}

// A warm event's copy outside the database is redacted with it even when
// the store cannot say whether it holds one (a read failing otherwise than
// "nothing there"): an unredacted copy must not stay behind unnoticed.
func TestARedactionReachesTheCopyWhenTheStoreCannotSay(t *testing.T) {
	ctx := context.Background()
	rooms, store, alice, roomID, ids, pos := coldThreadRoot(t)
	if _, ok := store.has(pos); !ok {
		t.Fatal("the root has no copy outside: the test needs one")
	}
	store.mu.Lock()
	store.failGet = errors.New("the disk is unreadable")
	store.mu.Unlock()
	if _, err := rooms.Perform.Redact(ctx, alice, "DEV", "redact-root", roomID, ids[1], ""); err != nil {
		t.Fatal(err)
	}
	if raw, _ := store.has(pos); strings.Contains(string(raw), "word1") {
		t.Fatal("the copy outside the database keeps the redacted content")
	}
}

// The mover empties a row only once its copy is durable, and only if the
// row still holds what it copied: a failed put moves nothing of what
// follows, and a row redacted meanwhile keeps its redacted JSON.
func TestColdMovesLoseNothing(t *testing.T) {
	ctx := context.Background()
	rooms, store, alice, roomID, ids := coldRoom(t, 20)
	var redactedPos int64
	if err := rooms.Query.db.QueryRow(ctx, `SELECT stream_pos FROM events WHERE event_id = ?`, ids[4]).Scan(&redactedPos); err != nil {
		t.Fatal(err)
	}
	puts := 0
	store.failPut = func(pos int64) error {
		puts++
		if pos == redactedPos {
			// Between the copy and the write that empties the row.
			if _, err := rooms.Perform.Redact(ctx, alice, "DEV", "meanwhile", roomID, ids[4], ""); err != nil {
				t.Error(err)
			}
		}
		if puts == 8 {
			return errors.New("disk full")
		}
		return nil
	}
	if _, err := moveAllCold(ctx, rooms, ColdOptions{KeepNewest: 5, Batch: 5}); err == nil {
		t.Fatal("a failed put went unreported")
	}
	store.failPut = nil
	if _, err := moveAllCold(ctx, rooms, ColdOptions{KeepNewest: 5, Batch: 5}); err != nil {
		t.Fatal(err)
	}
	for _, pos := range coldPositions(t, rooms) {
		if _, ok := store.has(pos); !ok {
			t.Fatalf("event %d has neither its JSON nor a copy", pos)
		}
	}
	evs, _, _, err := rooms.Query.Messages(ctx, alice, roomID, 0, Forward, 200)
	if err != nil {
		t.Fatal(err)
	}
	bodies := map[string]string{}
	for _, ev := range evs {
		bodies[ev.EventID()] = bodyOf(t, ev.Content())
	}
	for i, id := range ids {
		if want := fmt.Sprintf("message %d ", i); i != 4 && !strings.HasPrefix(bodies[id], want) {
			t.Fatalf("event %d reads %q", i, bodies[id])
		}
	}
	if body, ok := bodies[ids[4]]; !ok || body != "" {
		t.Fatalf("the event redacted during the move shows %q (listed: %v)", body, ok)
	}
	if raw, ok := store.has(redactedPos); ok && strings.Contains(string(raw), "word4") {
		t.Fatal("the copy made before the redaction is still kept")
	}
}
