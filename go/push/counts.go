package push

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/matrix-org/gomatrixserverlib/spec"

	"hearth/go/room"
)

// unreadSQL is true of a notifications row (n) its user has not read: it
// comes after the later of the user's own latest event in the room, their
// unthreaded read receipts, and their receipts in the row's own thread
// ('main' for the main timeline). An unthreaded receipt covers every thread;
// a threaded one only its thread (spec v1.11, "Threaded read receipts").
const unreadSQL = `n.stream_pos > MAX(
	COALESCE((SELECT MAX(e.stream_pos) FROM receipts rc JOIN events e ON e.event_id = rc.event_id
	          WHERE rc.user_id = n.user_id AND rc.room_id = n.room_id AND rc.receipt_type IN ('m.read', 'm.read.private')
	            AND rc.thread_id = ''), 0),
	` + threadReadSQL + `,
	COALESCE((SELECT o.stream_pos FROM own_event_positions o WHERE o.user_id = n.user_id AND o.room_id = n.room_id), 0))`

// threadReadSQL is the position of the user's newest receipt in the
// notifications row's (n) own thread.
const threadReadSQL = `COALESCE((SELECT MAX(e.stream_pos) FROM receipts rc JOIN events e ON e.event_id = rc.event_id
	          WHERE rc.user_id = n.user_id AND rc.room_id = n.room_id AND rc.receipt_type IN ('m.read', 'm.read.private')
	            AND rc.thread_id = CASE WHEN n.thread_id = '' THEN 'main' ELSE n.thread_id END), 0)`

// readPositionSQL is the read position common to every thread of one user
// and room (unthreaded receipts and their own latest event), given as
// parameters (user, room, user, room).
const readPositionSQL = `MAX(
	COALESCE((SELECT MAX(e.stream_pos) FROM receipts rc JOIN events e ON e.event_id = rc.event_id
	          WHERE rc.user_id = ? AND rc.room_id = ? AND rc.receipt_type IN ('m.read', 'm.read.private')
	            AND rc.thread_id = ''), 0),
	COALESCE((SELECT o.stream_pos FROM own_event_positions o WHERE o.user_id = ? AND o.room_id = ?), 0))`

// Counts are a room's unread notifications (/sync's unread_notifications).
type Counts struct {
	Notifications int `json:"notification_count"`
	Highlights    int `json:"highlight_count"`
}

// RoomCounts are a room's counts, the main timeline's apart from each
// thread's when asked (the filter's unread_thread_notifications).
type RoomCounts struct {
	Main    Counts
	Threads map[string]Counts // thread root → counts; only threads with unread
}

// Unread counts the notifications of user in a room after their read
// position, of events up to upTo: a /sync counts what its own timeline can
// show. (Rows are written before the notifier learns of their event, so a
// later one may already be there: in wasm, while the event's commit waits
// for IndexedDB. Counted, it would announce a message its response lacks.)
// With byThread, notifications in threads count in Threads, not in Main;
// otherwise everything counts in Main.
func (p *Push) Unread(ctx context.Context, user spec.UserID, roomID string, upTo room.StreamPos, byThread bool) (RoomCounts, error) {
	out := RoomCounts{Threads: map[string]Counts{}}
	if p.caughtUp.nothingUnread(user.String(), roomID) {
		return out, nil
	}
	// The read position once, materialized: in the count it would be
	// evaluated per row. One statement: every /sync asks for each room with news.
	rows, err := p.db.Query(ctx,
		`WITH r(pos) AS MATERIALIZED (SELECT `+readPositionSQL+`)
		 SELECT n.thread_id, COUNT(*), SUM(n.highlight) FROM notifications n, r
		 WHERE n.user_id = ? AND n.room_id = ? AND n.stream_pos > r.pos AND n.stream_pos <= ? AND n.stream_pos > `+threadReadSQL+`
		 GROUP BY n.thread_id`, user.String(), roomID, user.String(), roomID, user.String(), roomID, int64(upTo))
	if err != nil {
		return out, fmt.Errorf("count notifications in %s: %w", roomID, err)
	}
	defer rows.Close()
	for rows.Next() {
		var thread string
		var c Counts
		if err := rows.Scan(&thread, &c.Notifications, &c.Highlights); err != nil {
			return out, fmt.Errorf("count notifications in %s: %w", roomID, err)
		}
		if byThread && thread != "" {
			out.Threads[thread] = c
			continue
		}
		out.Main.Notifications += c.Notifications
		out.Main.Highlights += c.Highlights
	}
	if err := rows.Err(); err != nil {
		return out, fmt.Errorf("count notifications in %s: %w", roomID, err)
	}
	return out, nil
}

// totalUnread counts user's unread notifications across the rooms they are
// joined to (the push gateway API's counts.unread).
func (p *Push) totalUnread(ctx context.Context, user spec.UserID) (int, error) {
	var n int
	err := p.db.QueryRow(ctx,
		`SELECT COUNT(*) FROM notifications n WHERE n.user_id = ? AND `+unreadSQL+`
		   AND EXISTS (SELECT 1 FROM current_state s WHERE s.room_id = n.room_id AND s.type = 'm.room.member'
		               AND s.state_key = n.user_id AND s.membership = 'join')`,
		user.String()).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count notifications of %s: %w", user.String(), err)
	}
	return n, nil
}

// Notification is one entry of GET /notifications.
type Notification struct {
	Pos     int64
	RoomID  string
	EventID string
	Actions json.RawMessage
	Read    bool
	TS      int64
}

// List returns user's notifications, newest first, from before position
// from (0: the newest), at most limit, only the highlights if asked.
func (p *Push) List(ctx context.Context, user spec.UserID, from int64, limit int, onlyHighlight bool) ([]Notification, error) {
	rows, err := p.db.Query(ctx,
		`SELECT n.stream_pos, n.room_id, n.event_id, n.actions, n.ts, NOT (`+unreadSQL+`)
		 FROM notifications n
		 WHERE n.user_id = ? AND (? = 0 OR n.stream_pos < ?) AND (? = 0 OR n.highlight = 1)
		 ORDER BY n.stream_pos DESC LIMIT ?`,
		user.String(), from, from, onlyHighlight, limit)
	if err != nil {
		return nil, fmt.Errorf("list notifications of %s: %w", user.String(), err)
	}
	defer rows.Close()
	out := []Notification{}
	for rows.Next() {
		var n Notification
		if err := rows.Scan(&n.Pos, &n.RoomID, &n.EventID, &n.Actions, &n.TS, &n.Read); err != nil {
			return nil, fmt.Errorf("list notifications of %s: %w", user.String(), err)
		}
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list notifications of %s: %w", user.String(), err)
	}
	return out, nil
}
