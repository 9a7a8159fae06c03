package room

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/matrix-org/gomatrixserverlib/spec"
)

// Reading relations (client-server API v1.11, "GET
// /rooms/{roomId}/relations/{eventId}[/{relType}[/{eventType}]]", "GET
// /rooms/{roomId}/threads" and "Aggregations of child events").

// RelationsQuery selects the children of one event.
type RelationsQuery struct {
	EventID   string
	RelType   string // "": any
	EventType string // "": any; needs RelType
	From      StreamPos
	To        StreamPos // 0: no bound
	Dir       string    // Backward (newest first, the spec's default) or Forward
	Limit     int
}

// Relations pages through the events that relate to q.EventID in a room,
// those user may see. ErrEventNotFound when the parent is not in the room
// or user may not see it.
func (r *Queryer) Relations(ctx context.Context, user spec.UserID, roomID string, q RelationsQuery) ([]Event, StreamPos, bool, error) {
	access, err := r.requireVisible(ctx, user, roomID, q.EventID)
	if err != nil {
		return nil, 0, false, err
	}
	where := []string{"r.relates_to = ?", "e.room_id = ?", visibleAs("e")}
	args := []any{q.EventID, roomID}
	if q.RelType != "" {
		where, args = append(where, "r.rel_type = ?"), append(args, q.RelType)
	}
	if q.EventType != "" {
		where, args = append(where, "r.type = ?"), append(args, q.EventType)
	}
	order := "DESC"
	if q.Dir == Forward {
		order = "ASC"
		where, args = append(where, "e.stream_pos > ?"), append(args, int64(q.From))
		if q.To > 0 {
			where, args = append(where, "e.stream_pos <= ?"), append(args, int64(q.To))
		}
	} else {
		from := q.From
		if from == 0 {
			from = math.MaxInt64
		}
		where, args = append(where, "e.stream_pos <= ?"), append(args, int64(from))
		if q.To > 0 {
			where, args = append(where, "e.stream_pos > ?"), append(args, int64(q.To))
		}
	}
	events, err := r.query(ctx, roomID,
		`SELECT e.stream_pos, e.event_id, e.json FROM event_relations r JOIN events e ON e.event_id = r.event_id
		 WHERE `+strings.Join(where, " AND ")+` ORDER BY e.stream_pos `+order+` LIMIT ?`, append(args, q.Limit)...)
	if err != nil {
		return nil, 0, false, err
	}
	next, more := pageEnd(events, q.Limit, q.Dir)
	events, err = r.visibleToUser(ctx, roomID, user, access, events)
	return events, next, more, err
}

// Threads pages through a room's thread roots, the thread with the newest
// reply first. With participated, only threads user started or replied to.
func (r *Queryer) Threads(ctx context.Context, user spec.UserID, roomID string, from StreamPos, limit int, participated bool) ([]Event, StreamPos, bool, error) {
	access, err := readAccessOf(ctx, reader{r.db}, roomID, user)
	if err != nil {
		return nil, 0, false, err
	}
	if from == 0 {
		from = math.MaxInt64
	}
	filter, args := "", []any{roomID, roomID, int64(from)}
	if participated {
		filter = ` AND (json_extract(root.json, '$.sender') = ? OR EXISTS (
			SELECT 1 FROM event_relations r2 JOIN events c2 ON c2.event_id = r2.event_id
			WHERE r2.relates_to = root.event_id AND r2.rel_type = 'm.thread' AND json_extract(c2.json, '$.sender') = ?))`
		args = append(args, user.String(), user.String())
	}
	// The position read is the newest reply's, not the root's: a root is
	// never cold (cold_events.go), so query never loads it by position.
	events, err := r.query(ctx, roomID,
		`SELECT threads.latest, root.event_id, root.json FROM (
			SELECT r.relates_to AS root_id, MAX(e.stream_pos) AS latest
			FROM event_relations r JOIN events e ON e.event_id = r.event_id
			WHERE r.rel_type = 'm.thread' AND e.room_id = ? AND `+visibleAs("e")+`
			GROUP BY r.relates_to) AS threads
		 JOIN events root ON root.event_id = threads.root_id
		 WHERE root.room_id = ? AND `+visibleAs("root")+` AND threads.latest <= ?`+filter+`
		 ORDER BY threads.latest DESC LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, 0, false, err
	}
	next, more := pageEnd(events, limit, Backward)
	// Pos is the newest reply's position here; visibility is the root's own.
	events, err = r.visibleToUser(ctx, roomID, user, access, events)
	return events, next, more, err
}

// requireVisible checks that eventID is an event of the room that user may
// see, and returns how far user may read the room.
func (r *Queryer) requireVisible(ctx context.Context, user spec.UserID, roomID, eventID string) (readAccess, error) {
	access, err := readAccessOf(ctx, reader{r.db}, roomID, user)
	if err != nil {
		return access, err
	}
	evs, err := r.query(ctx, roomID, `SELECT stream_pos, event_id, json FROM events WHERE event_id = ? AND room_id = ? AND `+visible, eventID, roomID)
	if err == nil {
		evs, err = r.visibleToUser(ctx, roomID, user, access, evs)
	}
	if err != nil {
		return access, err
	}
	if len(evs) == 0 {
		return access, fmt.Errorf("%w: %s in %s", ErrEventNotFound, eventID, roomID)
	}
	return access, nil
}

// visibleAs is the visible condition for the events table under alias t.
func visibleAs(t string) string {
	return t + ".outlier = 0 AND " + t + ".rejected IS NULL AND " + t + ".soft_failed = 0"
}

// ThreadOf returns the root of the thread a room's event is in, "" for the
// main timeline (client-server API, "Threaded read receipts"): an event with
// an m.thread relation is in its root's thread, an event relating to such an
// event (a reaction, an edit) is in that thread too, and everything else,
// the roots included, is in the main timeline. ErrEventNotFound when the
// room holds no such event.
func (r *Queryer) ThreadOf(ctx context.Context, roomID, eventID string) (string, error) {
	id := eventID
	for hop := 0; hop < 2; hop++ {
		var parent, relType string
		err := r.db.QueryRow(ctx,
			`SELECT COALESCE(rel.relates_to, ''), COALESCE(rel.rel_type, '') FROM events e
			 LEFT JOIN event_relations rel ON rel.event_id = e.event_id
			 WHERE e.event_id = ? AND e.room_id = ? AND `+visibleAs("e"), id, roomID).Scan(&parent, &relType)
		if errors.Is(err, sql.ErrNoRows) {
			if hop == 0 {
				return "", fmt.Errorf("%w: %s in %s", ErrEventNotFound, eventID, roomID)
			}
			return "", nil // relates to an event we do not hold: main timeline as far as we know
		}
		if err != nil {
			return "", fmt.Errorf("thread of %s: %w", eventID, err)
		}
		switch {
		case relType == RelThread:
			return parent, nil
		case parent == "":
			return "", nil
		}
		id = parent
	}
	return "", nil
}
