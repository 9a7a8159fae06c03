// Package ephemeral keeps what rooms show beside their timelines: typing
// notifications and presence (in memory: they mean nothing after a restart)
// and read receipts (stored: a client must find its read position again).
//
// Federation plugs in at construction: Options.SendTyping and
// Options.SendReceipt are told of local changes to pass on as EDUs, and
// ReceiveTyping, ReceiveReceipt and SetPresence take what other servers send.
package ephemeral

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/matrix-org/gomatrixserverlib/spec"

	"hearth/go/storage"
)

// Receipt types (client-server API, "Receipts").
const (
	ReceiptRead        = "m.read"
	ReceiptReadPrivate = "m.read.private" // never shown to other users nor sent to other servers
)

// Presence states (client-server API, "Presence").
const (
	Online      = "online"
	Offline     = "offline"
	Unavailable = "unavailable"
)

// Options connect Ephemeral to the rest of the server. Nil functions do nothing.
type Options struct {
	Now func() time.Time // nil: time.Now
	// MemoryAdvanced is told the new in-memory position (typing, presence).
	MemoryAdvanced func(int64)
	// DataAdvanced is told the new data-stream position after a receipt commits.
	DataAdvanced func(int64)
	// SendTyping is told of a local user's typing change, for the room's
	// other servers (m.typing EDU). It must not block.
	SendTyping func(roomID string, user spec.UserID, typing bool, timeout time.Duration)
	// SendReceipt is told of a local user's public receipt, for the room's
	// other servers (m.receipt EDU). It must not block.
	// threadID is "" for an unthreaded receipt.
	SendReceipt func(roomID, receiptType string, user spec.UserID, eventID, threadID string, ts int64)
}

// Ephemeral is the typing, presence and receipt state of one server.
type Ephemeral struct {
	db   *storage.DB
	opts Options

	mu sync.Mutex
	// pos counts changes to typing and presence; guarded by mu.
	pos int64
	// typing is roomID → user ID → the timer that ends their typing; guarded by mu.
	typing map[string]*roomTyping
	// presence is user ID → state; guarded by mu. Absent users are offline.
	presence map[string]Presence
}

type roomTyping struct {
	users map[string]*typingNotice
	pos   int64 // of the last change in this room
}

// typingNotice is one user's typing in a room, ended by its timer. The timer
// fires with the notice it belongs to, not the *time.Timer: that pointer is
// assigned only once AfterFunc returns, and a short timeout may fire first.
type typingNotice struct{ timer *time.Timer }

// Presence is one user's presence.
type Presence struct {
	UserID        string
	State         string // Online, Offline or Unavailable
	StatusMsg     string
	LastActive    time.Time
	CurrentActive bool
	Pos           int64 // in-memory position of the last change
}

// New returns an empty Ephemeral.
func New(db *storage.DB, opts Options) *Ephemeral {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MemoryAdvanced == nil {
		opts.MemoryAdvanced = func(int64) {}
	}
	if opts.DataAdvanced == nil {
		opts.DataAdvanced = func(int64) {}
	}
	return &Ephemeral{db: db, opts: opts, typing: map[string]*roomTyping{}, presence: map[string]Presence{}}
}

// maxTypingTimeout bounds how long one typing notice lasts without renewal.
const maxTypingTimeout = 2 * time.Minute

// SetTyping records a local user's typing state and tells the room's other
// servers. The caller has checked that user is joined to the room.
func (e *Ephemeral) SetTyping(roomID string, user spec.UserID, typing bool, timeout time.Duration) {
	timeout = min(max(timeout, time.Second), maxTypingTimeout)
	e.ReceiveTyping(roomID, user, typing, timeout)
	if e.opts.SendTyping != nil {
		e.opts.SendTyping(roomID, user, typing, timeout)
	}
}

// ReceiveTyping records a typing change from federation (or, via SetTyping,
// from a local user). Typing ends by itself after timeout.
func (e *Ephemeral) ReceiveTyping(roomID string, user spec.UserID, typing bool, timeout time.Duration) {
	e.mu.Lock()
	rt := e.typing[roomID]
	if rt == nil {
		rt = &roomTyping{users: map[string]*typingNotice{}}
		e.typing[roomID] = rt
	}
	uid := user.String()
	old, was := rt.users[uid]
	if was {
		old.timer.Stop()
		delete(rt.users, uid)
	}
	if typing {
		notice := &typingNotice{}
		notice.timer = time.AfterFunc(timeout, func() { e.expire(roomID, uid, notice) })
		rt.users[uid] = notice
	}
	var pos int64
	if typing != was {
		e.pos++
		rt.pos, pos = e.pos, e.pos
	}
	e.mu.Unlock()
	if pos > 0 {
		e.opts.MemoryAdvanced(pos)
	}
}

// expire ends a typing notice whose timeout passed, unless it was renewed.
func (e *Ephemeral) expire(roomID, uid string, notice *typingNotice) {
	e.mu.Lock()
	rt := e.typing[roomID]
	if rt == nil || rt.users[uid] != notice {
		e.mu.Unlock()
		return
	}
	delete(rt.users, uid)
	e.pos++
	rt.pos = e.pos
	pos := e.pos
	e.mu.Unlock()
	e.opts.MemoryAdvanced(pos)
}

// Typing returns who is typing in a room if that changed after position
// after (ok false otherwise).
func (e *Ephemeral) Typing(roomID string, after int64) (users []string, ok bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	rt := e.typing[roomID]
	if rt == nil || rt.pos <= after {
		return nil, false
	}
	users = []string{}
	for uid := range rt.users {
		users = append(users, uid)
	}
	return users, true
}

// MemoryPos is the newest in-memory position.
func (e *Ephemeral) MemoryPos() int64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.pos
}

// Bounds on the presence kept in memory: other servers' EDUs fill it, and
// one EDU put 2,000 entries into a sync before (issue 11).
const (
	// MaxPresenceUsers bounds the users whose presence is kept; past it,
	// presence of users not yet known is not recorded (they read as offline).
	MaxPresenceUsers = 10_000
	// maxStatusMsgBytes bounds a status message; longer ones are cut.
	maxStatusMsgBytes = 256
)

// SetPresence records a user's presence: local users through the client
// API, remote ones from federation's m.presence EDUs. An unknown state is
// ignored (presence EDUs are not checked elsewhere).
func (e *Ephemeral) SetPresence(user spec.UserID, state, statusMsg string) {
	if state != Online && state != Offline && state != Unavailable {
		return
	}
	if len(statusMsg) > maxStatusMsgBytes {
		statusMsg = strings.ToValidUTF8(statusMsg[:maxStatusMsgBytes], "")
	}
	e.mu.Lock()
	if _, known := e.presence[user.String()]; !known && len(e.presence) >= MaxPresenceUsers {
		e.mu.Unlock()
		return
	}
	e.pos++
	now := e.opts.Now()
	e.presence[user.String()] = Presence{
		UserID: user.String(), State: state, StatusMsg: statusMsg,
		LastActive: now, CurrentActive: state == Online, Pos: e.pos,
	}
	pos := e.pos
	e.mu.Unlock()
	e.opts.MemoryAdvanced(pos)
}

// GetPresence returns a user's presence; unknown users are offline.
func (e *Ephemeral) GetPresence(user spec.UserID) Presence {
	e.mu.Lock()
	defer e.mu.Unlock()
	if p, ok := e.presence[user.String()]; ok {
		return p
	}
	return Presence{UserID: user.String(), State: Offline}
}

// PresenceSince returns the presence of users that changed after position after.
func (e *Ephemeral) PresenceSince(after int64) []Presence {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []Presence
	for _, p := range e.presence {
		if p.Pos > after {
			out = append(out, p)
		}
	}
	return out
}

// ThreadMain is the thread_id of a receipt for the main timeline (events in
// no thread), as opposed to "" (unthreaded: the whole room) and a thread
// root's event ID (client-server API, "Threaded read receipts").
const ThreadMain = "main"

// SetReceipt stores a local user's receipt and, unless private, tells the
// room's other servers. threadID is "" (unthreaded), ThreadMain or a thread
// root; the caller has checked it, and that user is joined.
func (e *Ephemeral) SetReceipt(ctx context.Context, roomID, receiptType string, user spec.UserID, eventID, threadID string) error {
	ts := e.opts.Now().UnixMilli()
	if err := e.ReceiveReceipt(ctx, roomID, receiptType, user, eventID, threadID, ts); err != nil {
		return err
	}
	if receiptType != ReceiptReadPrivate && e.opts.SendReceipt != nil {
		e.opts.SendReceipt(roomID, receiptType, user, eventID, threadID, ts)
	}
	return nil
}

// ReceiveReceipt stores a receipt from federation (or, via SetReceipt, from
// a local user), replacing the user's previous one of that type in that
// thread.
func (e *Ephemeral) ReceiveReceipt(ctx context.Context, roomID, receiptType string, user spec.UserID, eventID, threadID string, ts int64) error {
	var pos int64
	err := e.db.Write(ctx, func(tx *sql.Tx) error {
		var err error
		if pos, err = storage.NextDataPos(ctx, tx, "receipt"); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx,
			`INSERT INTO receipts (room_id, receipt_type, user_id, thread_id, event_id, ts, stream_pos) VALUES (?, ?, ?, ?, ?, ?, ?)
			 ON CONFLICT (room_id, receipt_type, user_id, thread_id) DO UPDATE SET
			   event_id = excluded.event_id, ts = excluded.ts, stream_pos = excluded.stream_pos`,
			roomID, receiptType, user.String(), threadID, eventID, ts, pos)
		if err != nil {
			return fmt.Errorf("store receipt: %w", err)
		}
		return nil
	})
	if err == nil {
		e.opts.DataAdvanced(pos)
	}
	return err
}

// Receipts returns the m.receipt event content of each of rooms for its
// receipts stored in (after, upTo] of the data stream, as viewer sees them
// (others' private receipts hidden); a room without any has none. One
// statement for them all: /sync asks it of every joined room, and a
// statement per room was one storage crossing per room in wasm.
func (e *Ephemeral) Receipts(ctx context.Context, rooms []string, viewer spec.UserID, after, upTo int64) (map[string]json.RawMessage, error) {
	if after >= upTo || len(rooms) == 0 {
		return nil, nil // nothing can be new
	}
	roomList, err := json.Marshal(rooms)
	if err != nil {
		return nil, fmt.Errorf("load receipts: %w", err)
	}
	rows, err := e.db.Query(ctx,
		`SELECT room_id, receipt_type, user_id, event_id, thread_id, ts FROM receipts
		 WHERE room_id IN (SELECT value FROM json_each(?)) AND stream_pos > ? AND stream_pos <= ? AND (receipt_type != ? OR user_id = ?)
		 ORDER BY stream_pos`,
		string(roomList), after, upTo, ReceiptReadPrivate, viewer.String())
	if err != nil {
		return nil, fmt.Errorf("load receipts: %w", err)
	}
	defer rows.Close()
	// room ID → event ID → receipt type → user ID → {ts, thread_id}. One
	// user's receipts of one type in two threads at the same event share a
	// key: the newer one is shown.
	contents := map[string]map[string]map[string]map[string]map[string]any{}
	for rows.Next() {
		var roomID, rtype, uid, eventID, threadID string
		var ts int64
		if err := rows.Scan(&roomID, &rtype, &uid, &eventID, &threadID, &ts); err != nil {
			return nil, fmt.Errorf("load receipts: %w", err)
		}
		content := contents[roomID]
		if content == nil {
			content = map[string]map[string]map[string]map[string]any{}
			contents[roomID] = content
		}
		byType := content[eventID]
		if byType == nil {
			byType = map[string]map[string]map[string]any{}
			content[eventID] = byType
		}
		if byType[rtype] == nil {
			byType[rtype] = map[string]map[string]any{}
		}
		r := map[string]any{"ts": ts}
		if threadID != "" {
			r["thread_id"] = threadID
		}
		byType[rtype][uid] = r
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load receipts: %w", err)
	}
	out := make(map[string]json.RawMessage, len(contents))
	for roomID, content := range contents {
		raw, err := json.Marshal(content)
		if err != nil {
			return nil, fmt.Errorf("marshal receipts: %w", err)
		}
		out[roomID] = raw
	}
	return out, nil
}
