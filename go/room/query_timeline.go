package room

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"
)

// Reading a room's timeline and state in stream order (/sync, /messages, /state).

// StreamPos is a position in the order this server learned events: /sync's
// next_batch and /messages' from/to tokens count in it. Event positions start
// at 1; events backfilled from other servers, older than everything held,
// get positions 0, -1, -2, … going back in time. As a token, position N sits
// just after the event at N: paging back from it starts with that event,
// paging forward starts with the one after.
type StreamPos int64

// String is the token form handed to clients.
func (p StreamPos) String() string { return "s" + strconv.FormatInt(int64(p), 10) }

// ParseStreamPos reads a token made by String.
func ParseStreamPos(token string) (StreamPos, error) {
	n, err := strconv.ParseInt(strings.TrimPrefix(token, "s"), 10, 64)
	if err != nil || !strings.HasPrefix(token, "s") {
		return 0, fmt.Errorf("%w: %q", ErrBadToken, token)
	}
	return StreamPos(n), nil
}

// Event is a stored event and its stream position.
type Event struct {
	gomatrixserverlib.PDU
	Pos StreamPos
	// TransactionID is the client transaction ID the reading device sent
	// this event with: set by Timeline only, "" for others' events.
	TransactionID string
	// childKinds are the rel_types of the events relating to this one, when
	// the statement that read it read them too (kindsRead, Timeline): then
	// Bundles need not ask.
	childKinds []string
	kindsRead  bool
}

// LatestPos returns the newest stream position (0 for an empty server).
func (r *Queryer) LatestPos(ctx context.Context) (StreamPos, error) {
	var pos int64
	if err := r.db.QueryRow(ctx, `SELECT COALESCE(MAX(stream_pos), 0) FROM events`).Scan(&pos); err != nil {
		return 0, fmt.Errorf("read latest stream position: %w", err)
	}
	return StreamPos(pos), nil
}

// StateEvent returns one current state event for a user joined to the room,
// and for one who left, the one at their leave.
func (r *Queryer) StateEvent(ctx context.Context, user spec.UserID, roomID, evType, stateKey string) (gomatrixserverlib.PDU, error) {
	access, err := readAccessOf(ctx, reader{r.db}, roomID, user)
	if err != nil {
		return nil, err
	}
	v, err := r.committedRoomVersion(ctx, roomID)
	if err != nil {
		return nil, err
	}
	if access.joined() {
		return stateEvent(ctx, reader{r.db}, v, roomID, evType, stateKey)
	}
	state, err := r.StateBetween(ctx, roomID, 0, access.upTo+1)
	if err != nil {
		return nil, err
	}
	for _, ev := range state {
		if ev.Type() == evType && ev.StateKeyEquals(stateKey) {
			return ev.PDU, nil
		}
	}
	return nil, fmt.Errorf("%w: %s %q in %s", ErrEventNotFound, evType, stateKey, roomID)
}

// CurrentState returns all current state events of a room for a joined user,
// and for one who left, the state at their leave.
func (r *Queryer) CurrentState(ctx context.Context, user spec.UserID, roomID string) ([]Event, error) {
	access, err := readAccessOf(ctx, reader{r.db}, roomID, user)
	if err != nil {
		return nil, err
	}
	if !access.joined() {
		return r.StateBetween(ctx, roomID, 0, access.upTo+1)
	}
	return r.query(ctx, roomID,
		`SELECT e.stream_pos, e.event_id, e.json FROM current_state s JOIN events e ON e.event_id = s.event_id
		 WHERE s.room_id = ? ORDER BY e.stream_pos`, roomID)
}

// StateBetween returns the state of a room as of just before stream position
// before, counting only state events after position after. From the start
// (after ≤ 0) it is the state group before the first event at or past
// before, so forks and joined-over state are right; otherwise it is the newest
// event of each (type, state_key) in the range. Sync's "state" block is this.
func (r *Queryer) StateBetween(ctx context.Context, roomID string, after, before StreamPos) ([]Event, error) {
	if after <= 0 {
		var group sql.NullInt64
		err := r.db.QueryRow(ctx,
			`SELECT state_before FROM events WHERE room_id = ? AND stream_pos >= ? AND `+visible+`
			 ORDER BY stream_pos LIMIT 1`, roomID, int64(before)).Scan(&group)
		if errors.Is(err, sql.ErrNoRows) {
			group, err = storedCurrentGroup(ctx, reader{r.db}, roomID)
		}
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("load state group of %s: %w", roomID, err)
		}
		if group.Valid {
			s, err := loadState(ctx, reader{r.db}, group.Int64)
			if err != nil {
				return nil, err
			}
			return r.eventsByID(ctx, roomID, slices.Collect(maps.Values(s)))
		}
	}
	return r.query(ctx, roomID,
		`SELECT stream_pos, event_id, json FROM events WHERE stream_pos IN (
			SELECT MAX(stream_pos) FROM events
			WHERE room_id = ? AND state_key IS NOT NULL AND stream_pos > ? AND stream_pos < ? AND `+visible+`
			GROUP BY type, state_key)
		 ORDER BY stream_pos`, roomID, int64(after), int64(before))
}

// eventsByID loads the events among ids of a room, in stream order.
func (r *Queryer) eventsByID(ctx context.Context, roomID string, ids []string) ([]Event, error) {
	var out []Event
	for chunk := range slices.Chunk(ids, maxSQLVars) {
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		events, err := r.query(ctx, roomID,
			`SELECT stream_pos, event_id, json FROM events WHERE event_id IN (?`+strings.Repeat(",?", len(chunk)-1)+`)`, args...)
		if err != nil {
			return nil, err
		}
		out = append(out, events...)
	}
	slices.SortFunc(out, func(a, b Event) int { return cmp.Compare(a.Pos, b.Pos) })
	return out, nil
}

// visible is the SQL condition for events clients may see: neither rejected,
// nor soft-failed, nor outliers (outliers have no place in the timeline).
const visible = "outlier = 0 AND rejected IS NULL AND soft_failed = 0"

// childKindsSQL is the rel_types of the events relating to event e,
// comma-separated, or NULL: a timeline statement's last column (timelineRow).
const childKindsSQL = "(SELECT group_concat(DISTINCT r.rel_type) FROM event_relations r WHERE r.relates_to = e.event_id)"

// Timeline returns up to limit of the newest events of a room in the range
// (after, upTo], oldest first, and whether older events in the range were left out.
// The events deviceID of reader sent carry the transaction IDs it sent them
// with (/sync marks them so the client can match its local echo).
func (r *Queryer) Timeline(ctx context.Context, roomID string, reader spec.UserID, deviceID string, after, upTo StreamPos, limit int) ([]Event, bool, error) {
	events, err := r.queryWithTimelineColumns(ctx, roomID,
		`SELECT e.stream_pos, e.event_id, e.json, t.txn_id, `+childKindsSQL+`
		 FROM events e
		 LEFT JOIN transaction_ids t ON t.stream_pos = e.stream_pos AND t.localpart = ? AND t.device_id = ?
		 WHERE e.room_id = ? AND e.stream_pos > ? AND e.stream_pos <= ? AND `+visible+`
		 ORDER BY e.stream_pos DESC LIMIT ?`, reader.Local(), deviceID, roomID, int64(after), int64(upTo), limit+1)
	if err != nil {
		return nil, false, err
	}
	limited := len(events) > limit
	if limited {
		events = events[:limit]
	}
	reverse(events)
	return events, limited, nil
}

// Direction of /messages pagination.
const (
	Backward = "b"
	Forward  = "f"
)

// Messages pages through the events of a room that user may see (joined,
// or up to their leave; by history visibility), starting at the
// token from (see StreamPos). It returns the events in the order paged, the
// token to continue from, and whether there may be more that way.
func (r *Queryer) Messages(ctx context.Context, user spec.UserID, roomID string, from StreamPos, dir string, limit int) ([]Event, StreamPos, bool, error) {
	access, err := readAccessOf(ctx, reader{r.db}, roomID, user)
	if err != nil {
		return nil, 0, false, err
	}
	var events []Event
	if dir == Forward {
		events, err = r.query(ctx, roomID,
			`SELECT stream_pos, event_id, json FROM events WHERE room_id = ? AND stream_pos > ? AND stream_pos <= ? AND `+visible+`
			 ORDER BY stream_pos ASC LIMIT ?`, roomID, int64(from), int64(access.upTo), limit)
	} else {
		events, err = r.query(ctx, roomID,
			`SELECT stream_pos, event_id, json FROM events WHERE room_id = ? AND stream_pos <= ? AND `+visible+`
			 ORDER BY stream_pos DESC LIMIT ?`, roomID, int64(min(from, access.upTo)), limit)
	}
	if err != nil {
		return nil, 0, false, err
	}
	next, more := pageEnd(events, limit, dir)
	if events, err = r.visibleToUser(ctx, roomID, user, access, events); err != nil {
		return nil, 0, false, err
	}
	return events, next, more, nil
}

// pageEnd is where paging in direction dir continues after a page of events
// asked with limit, and whether more may follow: a full page may have more.
func pageEnd(events []Event, limit int, dir string) (StreamPos, bool) {
	if limit <= 0 || len(events) < limit {
		return 0, false
	}
	last := events[len(events)-1].Pos
	if dir == Forward {
		return last, true
	}
	return last - 1, true
}

// query loads events of one room.
func (r *Queryer) query(ctx context.Context, roomID, q string, args ...any) ([]Event, error) {
	return r.queryEvents(ctx, roomID, false, q, args...)
}

// queryWithTimelineColumns is query for a statement with two more columns:
// the event's client transaction ID, or NULL, and the rel_types of the
// events relating to it, comma-separated, or NULL (timelineRow).
func (r *Queryer) queryWithTimelineColumns(ctx context.Context, roomID, q string, args ...any) ([]Event, error) {
	return r.queryEvents(ctx, roomID, true, q, args...)
}

func (r *Queryer) queryEvents(ctx context.Context, roomID string, timelineColumns bool, q string, args ...any) ([]Event, error) {
	v, err := r.committedRoomVersion(ctx, roomID)
	if err != nil {
		return nil, err
	}
	var read []timelineRow
	err = func() error {
		rows, err := r.db.Query(ctx, q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var row timelineRow
			var txnID, childKinds sql.NullString
			dest := []any{&row.pos, &row.id, &row.raw}
			if timelineColumns {
				dest = append(dest, &txnID, &childKinds)
			}
			if err := rows.Scan(dest...); err != nil {
				return err
			}
			row.txnID, row.kinds = txnID.String, childKinds.String
			read = append(read, row)
		}
		return rows.Err()
	}()
	if err != nil {
		return nil, fmt.Errorf("load events of %s: %w", roomID, err)
	}
	if err := r.warmRows(ctx, read); err != nil {
		return nil, err
	}
	out := make([]Event, 0, len(read))
	for _, row := range read {
		ev, err := row.event(v, timelineColumns)
		if err != nil {
			return nil, err
		}
		out = append(out, ev)
	}
	return out, nil
}

// timelineRow is an event as a timeline statement reads it: its JSON
// (perhaps cold), and with timeline columns its client transaction ID and
// the rel_types of the events relating to it, comma-separated (a rel_type
// holding a comma only makes Bundles look for kinds it will not find).
type timelineRow struct {
	roomID, id   string
	pos          int64
	raw          []byte
	txnID, kinds string
}

// warmRows reads the JSON of the cold rows among rows from the store, all
// together (warm).
func (r *core) warmRows(ctx context.Context, rows []timelineRow) error {
	raws := make([]storedJSON, len(rows))
	for i, row := range rows {
		raws[i] = storedJSON{pos: row.pos, raw: row.raw}
	}
	if err := r.warm(ctx, raws); err != nil {
		return err
	}
	for i := range rows {
		rows[i].raw = raws[i].raw
	}
	return nil
}

// event is the row's event; its JSON must be warm (warmRows).
func (row timelineRow) event(v gomatrixserverlib.IRoomVersion, timelineColumns bool) (Event, error) {
	pdu, err := loadEvent(v, row.id, row.raw)
	if err != nil {
		return Event{}, err
	}
	e := Event{PDU: pdu, Pos: StreamPos(row.pos), TransactionID: row.txnID, kindsRead: timelineColumns}
	if row.kinds != "" {
		e.childKinds = strings.Split(row.kinds, ",")
	}
	return e, nil
}

// appendTimelineEvent adds row's event (warm) to its room's timeline in timelines.
func (r *Queryer) appendTimelineEvent(ctx context.Context, timelines map[string][]Event, row timelineRow) error {
	v, err := r.committedRoomVersion(ctx, row.roomID)
	if err != nil {
		return err
	}
	ev, err := row.event(v, true)
	if err != nil {
		return fmt.Errorf("load events of %s: %w", row.roomID, err)
	}
	timelines[row.roomID] = append(timelines[row.roomID], ev)
	return nil
}

func reverse[T any](s []T) {
	for i, j := 0, len(s)-1; i < j; i, j = i+1, j-1 {
		s[i], s[j] = s[j], s[i]
	}
}

// IsNotFound reports whether err means the room or event does not exist.
func IsNotFound(err error) bool {
	return errors.Is(err, ErrRoomNotFound) || errors.Is(err, ErrEventNotFound)
}
