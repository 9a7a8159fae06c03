package storage

import (
	"context"
	"database/sql"
	"fmt"
)

// migrations[i] takes the schema from version i to version i+1. Append only:
// a database in the field may be at any earlier version.
var migrations = []string{
	// 1: accounts, devices, rooms and their events.
	`
CREATE TABLE server_identity (
	id          INTEGER PRIMARY KEY CHECK (id = 1),
	private_key BLOB NOT NULL          -- ed25519: seed || public key
);
CREATE TABLE accounts (
	localpart     TEXT PRIMARY KEY,
	password_hash TEXT NOT NULL,       -- bcrypt
	created_ts    INTEGER NOT NULL     -- ms since the epoch
);
CREATE TABLE devices (
	access_token TEXT PRIMARY KEY,
	localpart    TEXT NOT NULL REFERENCES accounts(localpart),
	device_id    TEXT NOT NULL,
	display_name TEXT NOT NULL DEFAULT '',
	created_ts   INTEGER NOT NULL,
	UNIQUE (localpart, device_id)
);
CREATE TABLE rooms (
	room_id      TEXT PRIMARY KEY,
	room_version TEXT NOT NULL
);
-- Every event this server holds, in the order it learned them: stream_pos is
-- the position /sync and /messages tokens count in.
CREATE TABLE events (
	stream_pos INTEGER PRIMARY KEY AUTOINCREMENT,
	event_id   TEXT NOT NULL UNIQUE,
	room_id    TEXT NOT NULL REFERENCES rooms(room_id),
	type       TEXT NOT NULL,
	state_key  TEXT,                   -- NULL for message events
	depth      INTEGER NOT NULL,
	json       BLOB NOT NULL           -- the signed PDU as received or built
);
CREATE INDEX events_by_room ON events (room_id, stream_pos);
CREATE TABLE current_state (
	room_id    TEXT NOT NULL,
	type       TEXT NOT NULL,
	state_key  TEXT NOT NULL,
	event_id   TEXT NOT NULL,
	membership TEXT,                   -- for m.room.member: join, invite, leave, ban, knock
	PRIMARY KEY (room_id, type, state_key)
);
CREATE INDEX current_state_by_member ON current_state (state_key, membership) WHERE type = 'm.room.member';
-- The room's forward extremities: the prev_events of the next event.
CREATE TABLE room_extremities (
	room_id  TEXT NOT NULL,
	event_id TEXT NOT NULL,
	PRIMARY KEY (room_id, event_id)
);
-- Client transaction IDs, so a retried PUT /send gives the same event.
CREATE TABLE transaction_ids (
	localpart TEXT NOT NULL,
	device_id TEXT NOT NULL,
	txn_id    TEXT NOT NULL,
	event_id  TEXT NOT NULL,
	PRIMARY KEY (localpart, device_id, txn_id)
);
`,
	// 2: federation. Events gain the flags and state the federation rules
	// need (rejected, outlier, the state before and after each event); the
	// outgoing queue and the received transaction IDs persist.
	`
ALTER TABLE events ADD COLUMN rejected TEXT;                          -- NULL: accepted; else why the auth rules refused it
ALTER TABLE events ADD COLUMN outlier INTEGER NOT NULL DEFAULT 0;    -- 1: known without its place in the timeline
ALTER TABLE events ADD COLUMN soft_failed INTEGER NOT NULL DEFAULT 0; -- 1: refused by current state: hidden, not an extremity
ALTER TABLE events ADD COLUMN state_before INTEGER;                  -- state_snapshots id; NULL for outliers and backfilled events
ALTER TABLE events ADD COLUMN state_after INTEGER;
ALTER TABLE rooms ADD COLUMN current_snapshot INTEGER;               -- the state current_state mirrors; NULL before migration 2
-- A state snapshot is a full map (type, state_key) → event; message events
-- share their predecessor's, so only state events and merges make new ones.
CREATE TABLE state_snapshots (
	snapshot_id INTEGER PRIMARY KEY AUTOINCREMENT,
	room_id     TEXT NOT NULL
);
CREATE TABLE state_entries (
	snapshot_id INTEGER NOT NULL,
	type        TEXT NOT NULL,
	state_key   TEXT NOT NULL,
	event_id    TEXT NOT NULL,
	PRIMARY KEY (snapshot_id, type, state_key)
);
-- The event graph: kind 'prev' (prev_events) or 'auth' (auth_events).
CREATE TABLE event_edges (
	event_id  TEXT NOT NULL,
	kind      TEXT NOT NULL,
	target_id TEXT NOT NULL,
	PRIMARY KEY (event_id, kind, target_id)
);
CREATE INDEX event_edges_by_target ON event_edges (target_id, kind);
-- Stripped state sent with an invite to a room this server is not in.
CREATE TABLE invite_state (
	room_id TEXT NOT NULL,
	user_id TEXT NOT NULL,
	events  BLOB NOT NULL,             -- JSON array of stripped state events
	PRIMARY KEY (room_id, user_id)
);
-- Transactions received, so a retried PUT /send is answered, not reapplied.
CREATE TABLE federation_received (
	origin   TEXT NOT NULL,
	txn_id   TEXT NOT NULL,
	response BLOB NOT NULL,
	PRIMARY KEY (origin, txn_id)
);
-- What to send to each destination, in order (id).
CREATE TABLE federation_queue (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	destination TEXT NOT NULL,
	kind        TEXT NOT NULL,         -- pdu or edu
	json        BLOB NOT NULL
);
CREATE INDEX federation_queue_by_destination ON federation_queue (destination, id);
`,
	// 3: what the client API keeps besides rooms: profiles, account data,
	// filters, receipts, aliases, media, end-to-end encryption keys and
	// to-device messages. Rows that /sync reports carry a position in the
	// data stream (data_stream), which the second part of sync tokens counts in.
	`
CREATE TABLE data_stream (
	pos  INTEGER PRIMARY KEY AUTOINCREMENT,
	kind TEXT NOT NULL                 -- what took the position, for debugging
);
CREATE TABLE profiles (
	localpart    TEXT PRIMARY KEY,
	displayname  TEXT,                 -- NULL: not set
	avatar_url   TEXT
);
CREATE TABLE account_data (
	user_id    TEXT NOT NULL,
	room_id    TEXT NOT NULL,          -- '' for global account data
	type       TEXT NOT NULL,
	content    BLOB NOT NULL,          -- a JSON object
	stream_pos INTEGER NOT NULL,
	PRIMARY KEY (user_id, room_id, type)
);
CREATE INDEX account_data_by_pos ON account_data (user_id, stream_pos);
CREATE TABLE filters (
	localpart TEXT NOT NULL,
	filter_id INTEGER NOT NULL,
	json      BLOB NOT NULL,
	PRIMARY KEY (localpart, filter_id)
);
-- The newest receipt of each type per user and room (m.read, m.read.private).
CREATE TABLE receipts (
	room_id      TEXT NOT NULL,
	receipt_type TEXT NOT NULL,
	user_id      TEXT NOT NULL,
	event_id     TEXT NOT NULL,
	ts           INTEGER NOT NULL,     -- ms since the epoch
	stream_pos   INTEGER NOT NULL,
	PRIMARY KEY (room_id, receipt_type, user_id)
);
CREATE INDEX receipts_by_pos ON receipts (room_id, stream_pos);
CREATE TABLE room_aliases (
	alias      TEXT PRIMARY KEY,       -- #local:server
	room_id    TEXT NOT NULL,
	creator    TEXT NOT NULL
);
CREATE INDEX room_aliases_by_room ON room_aliases (room_id);
CREATE TABLE forgotten_rooms (
	user_id TEXT NOT NULL,
	room_id TEXT NOT NULL,
	PRIMARY KEY (user_id, room_id)
);
CREATE TABLE media (
	media_id     TEXT PRIMARY KEY,     -- of this server's mxc:// URIs
	content_type TEXT NOT NULL,
	filename     TEXT NOT NULL DEFAULT '',
	uploader     TEXT NOT NULL,
	created_ts   INTEGER NOT NULL,
	data         BLOB NOT NULL
);
CREATE TABLE device_keys (
	user_id    TEXT NOT NULL,
	device_id  TEXT NOT NULL,
	json       BLOB NOT NULL,          -- the signed DeviceKeys object
	PRIMARY KEY (user_id, device_id)
);
CREATE TABLE one_time_keys (
	user_id   TEXT NOT NULL,
	device_id TEXT NOT NULL,
	key_id    TEXT NOT NULL,           -- algorithm:id
	algorithm TEXT NOT NULL,
	json      BLOB NOT NULL,
	PRIMARY KEY (user_id, device_id, key_id)
);
CREATE TABLE fallback_keys (
	user_id   TEXT NOT NULL,
	device_id TEXT NOT NULL,
	algorithm TEXT NOT NULL,
	key_id    TEXT NOT NULL,
	json      BLOB NOT NULL,
	used      INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (user_id, device_id, algorithm)
);
-- Cross-signing keys: key_type is master, self_signing or user_signing.
CREATE TABLE cross_signing_keys (
	user_id  TEXT NOT NULL,
	key_type TEXT NOT NULL,
	json     BLOB NOT NULL,            -- the CrossSigningKey object, with signatures
	PRIMARY KEY (user_id, key_type)
);
-- A user's device list changed at stream_pos (keys uploaded, device deleted).
CREATE TABLE key_changes (
	user_id    TEXT NOT NULL,
	stream_pos INTEGER NOT NULL,
	PRIMARY KEY (user_id, stream_pos)
);
CREATE INDEX key_changes_by_pos ON key_changes (stream_pos);
-- Client transaction IDs of PUT /sendToDevice, so a retry delivers nothing twice.
CREATE TABLE to_device_txns (
	user_id   TEXT NOT NULL,
	device_id TEXT NOT NULL,
	txn_id    TEXT NOT NULL,
	PRIMARY KEY (user_id, device_id, txn_id)
);
-- To-device messages waiting for their device; deleted once acknowledged.
CREATE TABLE to_device (
	stream_pos INTEGER NOT NULL,
	user_id    TEXT NOT NULL,
	device_id  TEXT NOT NULL,
	json       BLOB NOT NULL,          -- {sender, type, content}
	PRIMARY KEY (user_id, device_id, stream_pos)
);
`,
	// 4: other servers' media, cached once fetched over federation.
	`
CREATE TABLE remote_media (
	server_name  TEXT NOT NULL,
	media_id     TEXT NOT NULL,
	content_type TEXT NOT NULL,
	filename     TEXT NOT NULL DEFAULT '',
	fetched_ts   INTEGER NOT NULL,     -- ms since the epoch
	data         BLOB NOT NULL,
	PRIMARY KEY (server_name, media_id)
);
`,
	// 5: offline delivery. A queued row remembers its PDU's event ID (the
	// client's delivery state asks by event) and, once deposited in the
	// destination's mailbox on a relay, that deposit's ref and when the relay
	// drops it unread; such rows wait for the relay's notice, not a retry.
	`
ALTER TABLE federation_queue ADD COLUMN event_id TEXT;              -- of a PDU; NULL for EDUs
ALTER TABLE federation_queue ADD COLUMN mailbox_ref TEXT;           -- the deposit holding it (its txn ID); NULL: not deposited
ALTER TABLE federation_queue ADD COLUMN mailbox_expires_ts INTEGER; -- ms since the epoch; NULL when not deposited
CREATE INDEX federation_queue_by_event ON federation_queue (event_id) WHERE event_id IS NOT NULL;
CREATE INDEX federation_queue_by_ref ON federation_queue (destination, mailbox_ref) WHERE mailbox_ref IS NOT NULL;
`,
	// 6: to-device messages and invites remember the server they came from,
	// so what one server may leave waiting is bounded; and received to-device
	// EDUs' message IDs, so a retried or concurrent transaction delivers
	// nothing twice.
	`
ALTER TABLE invite_state ADD COLUMN origin TEXT NOT NULL DEFAULT '';  -- the inviting server
ALTER TABLE to_device ADD COLUMN origin TEXT NOT NULL DEFAULT '';  -- '' for this server's own users
CREATE INDEX to_device_by_origin ON to_device (origin);
CREATE TABLE to_device_received (
	origin      TEXT NOT NULL,
	message_id  TEXT NOT NULL,
	received_ts INTEGER NOT NULL,      -- ms since the epoch; pruned after a day
	PRIMARY KEY (origin, message_id)
);
CREATE INDEX to_device_received_by_ts ON to_device_received (received_ts);
`,
	// 7: media bytes leave the database for a blob store beside it (package
	// media, BlobStore); rows keep the metadata and the size. The bytes of
	// uploads from before wait in legacy_data until media.Store.Recover moves
	// them at the next start-up (and are served from there meanwhile). The
	// remote media cache starts empty: it is a cache, refetched on demand.
	`
CREATE TABLE media_v7 (
	media_id     TEXT PRIMARY KEY,     -- of this server's mxc:// URIs
	content_type TEXT NOT NULL,
	filename     TEXT NOT NULL DEFAULT '',
	uploader     TEXT NOT NULL,
	created_ts   INTEGER NOT NULL,     -- ms since the epoch
	size         INTEGER NOT NULL,     -- bytes of its blob
	legacy_data  BLOB                  -- NULL once its bytes are in the blob store
);
INSERT INTO media_v7 (media_id, content_type, filename, uploader, created_ts, size, legacy_data)
	SELECT media_id, content_type, filename, uploader, created_ts, length(data), data FROM media;
DROP TABLE media;
ALTER TABLE media_v7 RENAME TO media;
DROP TABLE remote_media;
CREATE TABLE remote_media (
	server_name    TEXT NOT NULL,
	media_id       TEXT NOT NULL,
	content_type   TEXT NOT NULL,
	filename       TEXT NOT NULL DEFAULT '',
	fetched_ts     INTEGER NOT NULL,   -- ms since the epoch
	last_access_ts INTEGER NOT NULL,   -- ms since the epoch, to within media's accessResolution: eviction order
	size           INTEGER NOT NULL,   -- bytes of its blob
	PRIMARY KEY (server_name, media_id)
);
CREATE INDEX remote_media_by_access ON remote_media (last_access_ts);
`,
	// 8: state costs what it changes, and nothing is stored twice.
	//
	// State snapshots (a full copy of the room state per state event: 800
	// state events made 325,200 rows) become state groups, each a delta
	// against its prev group: a state event's group is one row naming the
	// event. events.state_before/state_after and rooms.current_state_group
	// now name groups; every old snapshot keeps its ID as a group, as a delta
	// when one accepted state event made it from its state_before (the old
	// code's only way), else as a full snapshot. Long migrated chains are
	// cut by the next state event (go/room/state_groups.go says when).
	//
	// The event graph's edges are in each event's JSON; only prev events not
	// held in the timeline are kept apart, to find backward extremities and a
	// late parent's children. Tables keyed by their data become WITHOUT ROWID,
	// so the key is not stored a second time in an index.
	`
CREATE TABLE state_groups (
	group_id   INTEGER PRIMARY KEY,
	prev_group INTEGER,                -- NULL: a full snapshot, whole in state_group_entries
	event_pos  INTEGER,                -- the one state event (events.stream_pos) this group adds to prev_group; NULL: the delta is in state_group_entries
	size       INTEGER NOT NULL,       -- keys in the state
	chain_rows INTEGER NOT NULL        -- rows read to load it: its full snapshot's entries plus every delta up to it
);
CREATE TABLE state_group_entries (
	group_id  INTEGER NOT NULL,
	type      TEXT NOT NULL,
	state_key TEXT NOT NULL,
	event_id  TEXT,                    -- NULL: the key is in prev_group's state and not in this one
	PRIMARY KEY (group_id, type, state_key)
) WITHOUT ROWID;
INSERT INTO state_groups (group_id, prev_group, event_pos, size, chain_rows)
	SELECT s.snapshot_id, NULL, NULL, (SELECT COUNT(*) FROM state_entries x WHERE x.snapshot_id = s.snapshot_id), 0
	FROM state_snapshots s;
UPDATE state_groups SET prev_group = e.state_before, event_pos = e.stream_pos
	FROM events e
	WHERE e.state_after = state_groups.group_id AND e.state_before IS NOT NULL AND e.state_before != e.state_after
	  AND e.state_key IS NOT NULL AND e.rejected IS NULL AND e.outlier = 0;
CREATE INDEX state_groups_by_prev ON state_groups (prev_group);
WITH RECURSIVE chain (group_id, chain_rows) AS (
	SELECT group_id, size FROM state_groups WHERE prev_group IS NULL
	UNION ALL
	SELECT g.group_id, chain.chain_rows + 1 FROM state_groups g JOIN chain ON g.prev_group = chain.group_id
)
UPDATE state_groups SET chain_rows = (SELECT chain_rows FROM chain WHERE chain.group_id = state_groups.group_id);
DROP INDEX state_groups_by_prev;
INSERT INTO state_group_entries (group_id, type, state_key, event_id)
	SELECT x.snapshot_id, x.type, x.state_key, x.event_id
	FROM state_entries x JOIN state_groups g ON g.group_id = x.snapshot_id
	WHERE g.prev_group IS NULL;
DROP TABLE state_entries;
DROP TABLE state_snapshots;
ALTER TABLE rooms RENAME COLUMN current_snapshot TO current_state_group;

CREATE TABLE missing_prev_events (
	prev_id   TEXT NOT NULL,           -- a prev event not in this server's timeline
	event_pos INTEGER NOT NULL,        -- stream_pos of the timeline event naming it
	PRIMARY KEY (prev_id, event_pos)
) WITHOUT ROWID;
INSERT INTO missing_prev_events (prev_id, event_pos)
	SELECT DISTINCT g.target_id, e.stream_pos FROM event_edges g JOIN events e ON e.event_id = g.event_id
	WHERE g.kind = 'prev' AND e.outlier = 0
	  AND NOT EXISTS (SELECT 1 FROM events p WHERE p.event_id = g.target_id AND p.outlier = 0);
DROP TABLE event_edges;

CREATE TABLE current_state_v6 (
	room_id    TEXT NOT NULL,
	type       TEXT NOT NULL,
	state_key  TEXT NOT NULL,
	event_id   TEXT NOT NULL,
	membership TEXT,                   -- for m.room.member: join, invite, leave, ban, knock
	PRIMARY KEY (room_id, type, state_key)
) WITHOUT ROWID;
INSERT INTO current_state_v6 SELECT room_id, type, state_key, event_id, membership FROM current_state;
DROP TABLE current_state;
ALTER TABLE current_state_v6 RENAME TO current_state;
CREATE INDEX current_state_by_member ON current_state (state_key, membership) WHERE type = 'm.room.member';

CREATE TABLE room_extremities_v6 (
	room_id  TEXT NOT NULL,
	event_id TEXT NOT NULL,
	PRIMARY KEY (room_id, event_id)
) WITHOUT ROWID;
INSERT INTO room_extremities_v6 SELECT room_id, event_id FROM room_extremities;
DROP TABLE room_extremities;
ALTER TABLE room_extremities_v6 RENAME TO room_extremities;

CREATE TABLE transaction_ids_v6 (
	localpart TEXT NOT NULL,
	device_id TEXT NOT NULL,
	txn_id    TEXT NOT NULL,
	event_id  TEXT NOT NULL,
	PRIMARY KEY (localpart, device_id, txn_id)
) WITHOUT ROWID;
INSERT INTO transaction_ids_v6 SELECT localpart, device_id, txn_id, event_id FROM transaction_ids;
DROP TABLE transaction_ids;
ALTER TABLE transaction_ids_v6 RENAME TO transaction_ids;
`,
	// 9: /sync finds the transaction IDs of the events it returns by event
	// ID. The primary key only narrowed that to the device, so each /sync
	// after an own send read every transaction ID the device ever used
	// (hearth-bench: 1,000 sends made it 4 % of all CPU, growing with the
	// device's history). About 80 bytes per message sent with a transaction ID.
	`
CREATE INDEX transaction_ids_by_event ON transaction_ids (event_id);
`,
	// 10: client transaction IDs are scoped per device and per room
	// (client-server API, "Transaction identifiers"): the same ID sent to two
	// rooms makes two events.
	`
CREATE TABLE transaction_ids_v10 (
	localpart TEXT NOT NULL,
	device_id TEXT NOT NULL,
	room_id   TEXT NOT NULL,
	txn_id    TEXT NOT NULL,
	event_id  TEXT NOT NULL,
	PRIMARY KEY (localpart, device_id, room_id, txn_id)
) WITHOUT ROWID;
INSERT INTO transaction_ids_v10
	SELECT t.localpart, t.device_id, COALESCE(e.room_id, ''), t.txn_id, t.event_id
	FROM transaction_ids t LEFT JOIN events e ON e.event_id = t.event_id;
DROP TABLE transaction_ids;
ALTER TABLE transaction_ids_v10 RENAME TO transaction_ids;
CREATE INDEX transaction_ids_by_event ON transaction_ids (event_id); -- migration 9's, gone with the old table
`,
	// 11: pushers (client-server API, "Push Notifications"), each made by one
	// device (session) and gone with it. body is the spec's Pusher object.
	`
CREATE TABLE pushers (
	localpart TEXT NOT NULL,
	app_id    TEXT NOT NULL,
	pushkey   TEXT NOT NULL,
	device_id TEXT NOT NULL,
	body      BLOB NOT NULL,
	PRIMARY KEY (localpart, app_id, pushkey)
) WITHOUT ROWID;
CREATE INDEX pushers_by_key ON pushers (app_id, pushkey);
`,
	// 12: the room directory lists the rooms published to it (client-server
	// API, "Room directory": createRoom's visibility, PUT
	// /directory/list/room/{roomId}), not every room with a public join rule.
	// Rooms listed before, those whose join rule is public, stay published.
	`
CREATE TABLE published_rooms (
	room_id TEXT PRIMARY KEY
) WITHOUT ROWID;
INSERT INTO published_rooms
	SELECT s.room_id FROM current_state s JOIN events e ON e.event_id = s.event_id
	WHERE s.type = 'm.room.join_rules' AND s.state_key = '' AND CAST(e.json AS TEXT) LIKE '%"join_rule":"public"%';
`,
	// 13: event relations (client-server API, "Forming relationships between
	// events"): which event relates to which, how, for /relations, /threads
	// and bundled aggregations. Events held before are indexed from their JSON.
	`
CREATE TABLE event_relations (
	event_id   TEXT PRIMARY KEY,
	room_id    TEXT NOT NULL,
	relates_to TEXT NOT NULL,
	rel_type   TEXT NOT NULL,
	type       TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX event_relations_by_parent ON event_relations (relates_to, rel_type, type);
INSERT OR REPLACE INTO event_relations
	SELECT event_id, room_id, relates_to, rel_type, type FROM (
		SELECT event_id, room_id, type,
			json_extract(json, '$.content."m.relates_to".event_id') AS relates_to,
			json_extract(json, '$.content."m.relates_to".rel_type') AS rel_type
		FROM events WHERE json_valid(json))
	WHERE typeof(relates_to) = 'text' AND typeof(rel_type) = 'text';
`,
	// 14: full-text search of message bodies (client-server API, "Server Side
	// Search"), rowid = the event's stream position. The module is the
	// build's own (fullTextModule: FTS4 in sql.js, FTS5 natively).
	`CREATE VIRTUAL TABLE event_search USING ` + fullTextModule + `(body);
INSERT INTO event_search (rowid, body)
	SELECT stream_pos, json_extract(json, '$.content.body') FROM events
	WHERE type = 'm.room.message' AND outlier = 0 AND json_valid(json)
	  AND typeof(json_extract(json, '$.content.body')) = 'text';
`,
	// 15: server-side key backups (client-server API, "Server-side key
	// backups"). A deleted version keeps its row, so its number is never
	// handed out again; its keys go.
	`
CREATE TABLE key_backup_versions (
	localpart TEXT NOT NULL,
	version   INTEGER NOT NULL,
	algorithm TEXT NOT NULL,
	auth_data BLOB NOT NULL,
	etag      INTEGER NOT NULL DEFAULT 0, -- bumped by every change of its keys
	deleted   INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (localpart, version)
) WITHOUT ROWID;
CREATE TABLE key_backup_keys (
	localpart           TEXT NOT NULL,
	version             INTEGER NOT NULL,
	room_id             TEXT NOT NULL,
	session_id          TEXT NOT NULL,
	first_message_index INTEGER NOT NULL,
	forwarded_count     INTEGER NOT NULL,
	is_verified         INTEGER NOT NULL,
	session_data        BLOB NOT NULL,
	PRIMARY KEY (localpart, version, room_id, session_id)
) WITHOUT ROWID;
`,
	// 16: media IDs created ahead of their upload (client-server API,
	// "POST /_matrix/media/v1/create"), until uploaded or expired.
	`
CREATE TABLE pending_media (
	media_id   TEXT PRIMARY KEY,
	uploader   TEXT NOT NULL,
	expires_ts INTEGER NOT NULL,      -- ms since the epoch
	uploading  INTEGER NOT NULL DEFAULT 0 -- 1 while one upload of it is under way
) WITHOUT ROWID;
CREATE INDEX pending_media_by_uploader ON pending_media (uploader);
`,
	// 17: threaded read receipts (client-server API, "Threaded read
	// receipts"): a user keeps one receipt of each type per thread: '' is
	// unthreaded, 'main' the main timeline, else the thread root's event ID.
	`
CREATE TABLE receipts_threaded (
	room_id      TEXT NOT NULL,
	receipt_type TEXT NOT NULL,
	user_id      TEXT NOT NULL,
	thread_id    TEXT NOT NULL DEFAULT '',
	event_id     TEXT NOT NULL,
	ts           INTEGER NOT NULL,     -- ms since the epoch
	stream_pos   INTEGER NOT NULL,
	PRIMARY KEY (room_id, receipt_type, user_id, thread_id)
);
INSERT INTO receipts_threaded (room_id, receipt_type, user_id, thread_id, event_id, ts, stream_pos)
	SELECT room_id, receipt_type, user_id, '', event_id, ts, stream_pos FROM receipts;
DROP TABLE receipts;
ALTER TABLE receipts_threaded RENAME TO receipts;
CREATE INDEX receipts_by_pos ON receipts (room_id, stream_pos);
`,
	// 18: search covers room names and topics too (client-server API,
	// "POST /search": keys content.name and content.topic); the event type
	// says which key a text is.
	`
INSERT INTO event_search (rowid, body)
	SELECT stream_pos, json_extract(json, '$.content.name') FROM events
	WHERE type = 'm.room.name' AND state_key = '' AND outlier = 0 AND json_valid(json)
	  AND typeof(json_extract(json, '$.content.name')) = 'text' AND json_extract(json, '$.content.name') != '';
INSERT INTO event_search (rowid, body)
	SELECT stream_pos, json_extract(json, '$.content.topic') FROM events
	WHERE type = 'm.room.topic' AND state_key = '' AND outlier = 0 AND json_valid(json)
	  AND typeof(json_extract(json, '$.content.topic')) = 'text' AND json_extract(json, '$.content.topic') != '';
`,
	// 19: notifications (client-server API, "Push Notifications"): the events
	// a local user's push rules made notify, kept for the unread counts of
	// /sync, GET /notifications and pushers; and where each local user last
	// wrote in each room (who writes has read what came before: with the
	// user's read receipts, the read position notifications count from).
	`
CREATE TABLE notifications (
	user_id    TEXT NOT NULL,
	stream_pos INTEGER NOT NULL,       -- the event's position
	room_id    TEXT NOT NULL,
	event_id   TEXT NOT NULL,
	thread_id  TEXT NOT NULL,          -- the thread's root event, '' for the main timeline
	highlight  INTEGER NOT NULL,       -- 1: the actions set the highlight tweak
	actions    BLOB NOT NULL,          -- the matching rule's actions, JSON
	ts         INTEGER NOT NULL,       -- ms since the epoch, when evaluated
	PRIMARY KEY (user_id, stream_pos)
) WITHOUT ROWID;
CREATE INDEX notifications_by_room ON notifications (user_id, room_id, stream_pos);
CREATE TABLE own_event_positions (
	user_id    TEXT NOT NULL,
	room_id    TEXT NOT NULL,
	stream_pos INTEGER NOT NULL,       -- the user's latest event in the room
	PRIMARY KEY (user_id, room_id)
) WITHOUT ROWID;
`,
	// 20: the full-text index keeps no copy of the bodies (issue 18: bytes per
	// message). Its content is read from the events' JSON through a view
	// (external content), so it holds only the index: ~200 bytes less per
	// 200-byte message. The view names the rows migrations 14 and 18 indexed
	// (message bodies, room names and topics); the
	// index reads a body from it when a row is deleted, so a redaction
	// unindexes the body before it rewrites the JSON (go/room).
	`DROP TABLE event_search;
CREATE VIEW event_search_bodies (rowid, body) AS
	SELECT pos, text FROM (
		SELECT stream_pos AS pos, json_extract(json, CASE type
			WHEN 'm.room.message' THEN '$.content.body'
			WHEN 'm.room.name' THEN '$.content.name'
			ELSE '$.content.topic' END) AS text
		FROM events
		WHERE outlier = 0 AND json_valid(json)
		  AND (type = 'm.room.message' OR (type IN ('m.room.name', 'm.room.topic') AND state_key = '')))
	WHERE typeof(text) = 'text';
CREATE VIRTUAL TABLE event_search USING ` + fullTextModule + `(body, ` + fullTextExternalContent + `);
INSERT INTO event_search (event_search) VALUES ('rebuild');
`,
	// 21: client transaction IDs are forgotten after a day (go/room
	// TransactionIDRetention): they make retries idempotent, and kept forever
	// they were ~320 bytes of every message sent (issue 18). Rows from before
	// have no time (0) and go at the first prune. No index on the time: the
	// hourly prune scans a day's rows, and an index would cost ~115 bytes a row.
	`
ALTER TABLE transaction_ids ADD COLUMN sent_ts INTEGER NOT NULL DEFAULT 0;
`,
	// 22: a transaction ID's row names its event by stream position and
	// leaves the room to the event: the row and its index were ~340 bytes
	// of every message sent in the last day (the room ID and the event ID
	// in the row, and the whole key again in the index on event_id), a third
	// of a database whose old messages' JSON is kept outside it (issue 18).
	// Now ~95. The room scope is checked through the event (go/room).
	`
CREATE TABLE transaction_ids_v22 (
	stream_pos INTEGER PRIMARY KEY,    -- the event the send made
	localpart  TEXT NOT NULL,
	device_id  TEXT NOT NULL,
	txn_id     TEXT NOT NULL,
	sent_ts    INTEGER NOT NULL
);
INSERT INTO transaction_ids_v22 (stream_pos, localpart, device_id, txn_id, sent_ts)
	SELECT e.stream_pos, t.localpart, t.device_id, t.txn_id, t.sent_ts
	FROM transaction_ids t JOIN events e ON e.event_id = t.event_id;
DROP TABLE transaction_ids;
ALTER TABLE transaction_ids_v22 RENAME TO transaction_ids;
CREATE INDEX transaction_ids_by_txn ON transaction_ids (localpart, device_id, txn_id);
`,
	// 23: the full-text index is kept up to date after the writes that add
	// events rather than inside them (go/room search_index.go): indexing a
	// message in its own send's write was a fifth of a send's time natively.
	// indexed_to is the stream position up to which the index is complete;
	// everything stored before this version was indexed when it was written.
	`
CREATE TABLE search_index_position (
	id         INTEGER PRIMARY KEY CHECK (id = 0),
	indexed_to INTEGER NOT NULL
);
INSERT INTO search_index_position (id, indexed_to) VALUES (0, (SELECT COALESCE(MAX(stream_pos), 0) FROM events));
`,
}

// SchemaVersion is the version a fully migrated database has.
func SchemaVersion() int { return len(migrations) }

// migrate brings the schema to SchemaVersion in one transaction: a new
// database is one durable commit, not one per version (each an IndexedDB
// transaction in the browser, a first visit's 24 of them), and a failure
// leaves the database as it was.
func (db *DB) migrate(ctx context.Context) error {
	return db.migrateTo(ctx, len(migrations))
}

func (db *DB) migrateTo(ctx context.Context, target int) error {
	// Read first: at a warm start the table is there, and a write would be a
	// durable commit for nothing.
	var exists bool
	if err := db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version')`).Scan(&exists); err != nil {
		return fmt.Errorf("look for schema_version: %w", err)
	}
	current := 0
	if exists {
		if err := db.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&current); err != nil {
			return fmt.Errorf("read schema version: %w", err)
		}
		if current > len(migrations) {
			return fmt.Errorf("database schema version %d is newer than this build knows (%d)", current, len(migrations))
		}
		if current >= target {
			return nil
		}
	}
	return db.Write(ctx, func(tx *sql.Tx) error {
		if !exists {
			if _, err := tx.ExecContext(ctx, `CREATE TABLE schema_version (version INTEGER NOT NULL)`); err != nil {
				return fmt.Errorf("create schema_version: %w", err)
			}
		}
		for version := current + 1; version <= target; version++ {
			if _, err := tx.ExecContext(ctx, migrations[version-1]); err != nil {
				return fmt.Errorf("migrate schema to version %d: %w", version, err)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO schema_version (version) VALUES (?)`, version); err != nil {
				return fmt.Errorf("record schema version %d: %w", version, err)
			}
		}
		return nil
	})
}

// OpenAtVersion opens (creating if needed) the database at path migrated
// only up to version, for tests of migrations: they write rows as an older
// version did, close, and Open. In js/wasm the path is ignored.
func OpenAtVersion(ctx context.Context, path string, version int) (*DB, error) {
	sqlDB, err := openSQLite(path)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	db := &DB{sql: sqlDB, writer: make(chan struct{}, 1)}
	if err := db.migrateTo(ctx, version); err != nil {
		sqlDB.Close()
		return nil, err
	}
	return db, nil
}
