package storage

import (
	"context"
	"testing"
)

// Migration 18 indexes the room names and topics stored before search
// covered them (content.name, content.topic); other state stays out.
func TestSearchIndexesStoredNamesAndTopics(t *testing.T) {
	ctx := context.Background()
	old, path := databaseAtVersion(t, 17,
		`INSERT INTO rooms (room_id, room_version) VALUES ('!r:x', '11')`,
		`INSERT INTO events (event_id, room_id, type, state_key, depth, json) VALUES ('$n', '!r:x', 'm.room.name', '', 1, '{"type":"m.room.name","content":{"name":"Gardening club"}}')`,
		`INSERT INTO events (event_id, room_id, type, state_key, depth, json) VALUES ('$t', '!r:x', 'm.room.topic', '', 2, '{"type":"m.room.topic","content":{"topic":"tomatoes and basil"}}')`,
		`INSERT INTO events (event_id, room_id, type, state_key, depth, json) VALUES ('$x', '!r:x', 'm.room.join_rules', '', 3, '{"type":"m.room.join_rules","content":{"name":"not a room name"}}')`,
		`INSERT INTO events (event_id, room_id, type, state_key, depth, json) VALUES ('$o', '!r:x', 'm.room.name', '', 4, '{"type":"m.room.name","content":{"name":"Outlier name"}}')`,
		`UPDATE events SET outlier = 1 WHERE event_id = '$o'`,
	)
	old.Close()
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	match := func(term string) []string {
		rows, err := db.Query(ctx, `SELECT e.event_id FROM event_search JOIN events e ON e.stream_pos = event_search.rowid WHERE event_search MATCH ? ORDER BY e.stream_pos`, term)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var ids []string
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
		}
		return ids
	}
	if got := match("gardening"); len(got) != 1 || got[0] != "$n" {
		t.Fatalf("name: %v", got)
	}
	if got := match("basil"); len(got) != 1 || got[0] != "$t" {
		t.Fatalf("topic: %v", got)
	}
	if got := match("name"); len(got) != 0 {
		t.Fatalf("indexed other state or an outlier: %v", got)
	}
}

// Migration 20 rebuilds the full-text index over the events' JSON (no copy
// of the bodies): what migration 14 indexed stays findable, and the bodies
// are no longer stored a second time.
func TestMigrationIndexesBodiesWithoutACopy(t *testing.T) {
	ctx := context.Background()
	const beforeExternalContent = 19
	db, _ := databaseAtVersion(t, beforeExternalContent,
		`INSERT INTO rooms (room_id, room_version) VALUES ('!r:x', '11')`,
		`INSERT INTO events (event_id, room_id, type, depth, json) VALUES ('$m', '!r:x', 'm.room.message', 2, '{"content":{"body":"fresh bread"}}')`,
		`INSERT INTO event_search (rowid, body) SELECT stream_pos, 'fresh bread' FROM events WHERE event_id = '$m'`,
	)
	defer db.Close()
	if err := db.migrateTo(ctx, beforeExternalContent+1); err != nil {
		t.Fatal(err)
	}
	var found string
	if err := db.QueryRow(ctx, `SELECT e.event_id FROM event_search JOIN events e ON e.stream_pos = event_search.rowid WHERE event_search MATCH '"bread"'`).Scan(&found); err != nil || found != "$m" {
		t.Fatalf("after the migration: %q, %v", found, err)
	}
	// FTS5 keeps a copy in event_search_content unless the content is external.
	var copies int
	if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM sqlite_master WHERE name IN ('event_search_content')`).Scan(&copies); err != nil || copies != 0 {
		t.Fatalf("the bodies are still copied: %d tables, %v", copies, err)
	}
}

// Migration 23: what was stored before it was indexed in its write, so the
// index's position starts at the newest event (from 0, the catch-up would
// index every text a second time).
func TestSearchIndexPositionStartsAtTheNewestEvent(t *testing.T) {
	ctx := context.Background()
	const beforeDeferredIndexing = 22
	db, _ := databaseAtVersion(t, beforeDeferredIndexing,
		`INSERT INTO rooms (room_id, room_version) VALUES ('!r:x', '11')`,
		`INSERT INTO events (event_id, room_id, type, depth, json) VALUES ('$a', '!r:x', 'm.room.message', 2, '{"content":{"body":"one"}}')`,
		`INSERT INTO events (event_id, room_id, type, depth, json) VALUES ('$b', '!r:x', 'm.room.message', 3, '{"content":{"body":"two"}}')`,
	)
	defer db.Close()
	if err := db.migrateTo(ctx, beforeDeferredIndexing+1); err != nil {
		t.Fatal(err)
	}
	var indexedTo, newest int64
	if err := db.QueryRow(ctx, `SELECT indexed_to, (SELECT MAX(stream_pos) FROM events) FROM search_index_position`).Scan(&indexedTo, &newest); err != nil || indexedTo != newest || newest == 0 {
		t.Fatalf("indexed to %d, newest %d: %v", indexedTo, newest, err)
	}
}
