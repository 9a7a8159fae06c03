package room

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
)

// Cold events: the JSON of old message events kept beside the database
// rather than in it (issue 18). In the browser the database is held in
// memory whole and read whole at every start, and old messages are most of
// it while being the least read. Such an event's row keeps every column the
// indexes and queries use; its json is coldJSON and the ColdStore holds the
// event's, by stream position.
//
// Only events no SQL statement reads the JSON of may go cold: accepted
// timeline message events (no state key) that are not relations themselves
// (aggregations read their senders) and not thread roots (the thread list
// reads their senders). A thread root that was cold before its first reply
// is warmed in the write that stores the reply (warmThreadRoot).
//
// Crash safety: the mover puts the JSON and waits until it is durable before
// the write that empties the row, and that write empties only rows still
// holding the JSON it put. A crash between the two leaves a blob beside a
// full row, overwritten the next time the row is moved. A redaction of a
// message event writes the redacted JSON into the row, then over any copy;
// if a crash comes between, the next mover pass (which starts from the
// oldest row in each life) moves the redacted row again, over the old copy.
//
// A copy is overwritten, never deleted, once its row may have been cold: a
// backup (js/backup) lists the copies after it reads the database, so a copy
// must outlive every durable state in which its row was cold. The one copy
// deleted is the mover's own, of a row that changed before the mover could
// empty it.

// coldJSON is what a cold event's row holds in place of its JSON, as SQL: an
// empty object, as a BLOB like every event's JSON. Not NULL: the column is
// NOT NULL, and SQLite cannot relax that without copying the table. Not an
// empty BLOB either: json_extract fails on that, and the query planner may
// run a statement's json_extract on rows its other terms then drop; on {}
// it gives NULL.
const coldJSON = `X'7B7D'`

// isCold reports whether raw, an events row's json, is coldJSON.
func isCold(raw []byte) bool { return string(raw) == "{}" }

// ColdStore keeps cold events' JSON by stream position, durably
// (media.EventBlobs, over the server's blob store).
type ColdStore interface {
	// PutEventJSON stores raw for the event at pos, replacing what was
	// there; it returns once raw is durable.
	PutEventJSON(ctx context.Context, pos int64, raw []byte) error
	// EventJSON returns what PutEventJSON stored for pos, or an error
	// wrapping fs.ErrNotExist when nothing is.
	EventJSON(ctx context.Context, pos int64) ([]byte, error)
	// DeleteEventJSON removes what is stored for pos; nothing there is no error.
	DeleteEventJSON(ctx context.Context, pos int64) error
}

// ColdOptions say which events go cold and when the mover looks.
type ColdOptions struct {
	// KeepNewest: events among the newest KeepNewest stream positions stay
	// in the database (what /sync and recent scrollback read). 0: none go cold.
	KeepNewest int64
	// Batch is how many events one write empties (and at least how many
	// must be due before the mover starts); 0: 200.
	Batch int
	// Every is how often the mover looks; 0: 10 s. Its first look is one
	// period after start, past start-up's own work.
	Every time.Duration
}

// eventColumns are all of an events row's columns, json at jsonColumn: the
// mover deletes a row and inserts it again (see moveCold); a column added to
// events must be added here (TestColdEventsAreServedFromTheStore fails otherwise).
const (
	eventColumns = `stream_pos, event_id, room_id, type, state_key, depth, json, rejected, outlier, soft_failed, state_before, state_after`
	jsonColumn   = 6
	columnCount  = 12
)

// coldCandidates selects, after a position and up to another, the rows that
// may go cold (see above), oldest first.
const coldCandidates = `SELECT ` + eventColumns + ` FROM events e
	WHERE e.stream_pos > ? AND e.stream_pos <= ? AND e.json != ` + coldJSON + `
	  AND e.state_key IS NULL AND e.outlier = 0 AND e.rejected IS NULL
	  AND NOT EXISTS (SELECT 1 FROM event_relations r WHERE r.event_id = e.event_id)
	  AND NOT EXISTS (SELECT 1 FROM event_relations r WHERE r.relates_to = e.event_id AND r.rel_type = 'm.thread')
	ORDER BY e.stream_pos LIMIT ?`

// RunColdMover moves events cold as opts says until ctx ends. Each life
// starts from the oldest row, so rows a crash or a redaction left full are
// moved again.
func (r *Rooms) RunColdMover(ctx context.Context, opts ColdOptions) {
	if opts.KeepNewest <= 0 || r.Perform.cold == nil {
		return
	}
	if opts.Every <= 0 {
		opts.Every = 10 * time.Second
	}
	log := logrus.WithField("component", "cold events")
	var after int64
	tick := time.NewTicker(opts.Every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		var err error
		if _, after, err = r.Perform.moveDue(ctx, after, opts); err != nil && ctx.Err() == nil {
			log.WithError(err).Warn("moving old events out of the database failed; trying again later")
		}
	}
}

// moveDue moves batches of the rows due after position after until fewer
// than a batch are left. It returns how many rows it emptied and the last
// position it looked at, where the next call may start.
func (r *core) moveDue(ctx context.Context, after int64, opts ColdOptions) (moved int, last int64, err error) {
	for {
		n, next, err := r.moveCold(ctx, after, opts)
		moved += n
		if err != nil || next == after {
			return moved, after, err
		}
		after = next
	}
}

// moveCold moves one batch of the rows due after position after: their JSON
// into the store, then out of the rows. It returns how many rows it emptied
// and the last position it looked at, which is after when fewer than a
// batch are due and nothing was done.
func (r *core) moveCold(ctx context.Context, after int64, opts ColdOptions) (moved int, last int64, err error) {
	batch := opts.Batch
	if batch <= 0 {
		batch = 200
	}
	batch = min(batch, maxSQLVars) // jsonAt reads them in one IN list
	// A row emptied before the search index took its text in would never
	// be found (the index reads texts from the rows), so the index catches
	// up first, and rows it has yet to cover stay.
	indexedTo, newest, err := r.catchUpSearchIndex(ctx)
	if err != nil {
		return 0, after, err
	}
	var rows [][]any // each row's columns, as eventColumns
	err = func() error {
		res, err := r.db.Query(ctx, coldCandidates, after, min(newest-opts.KeepNewest, indexedTo), batch)
		if err != nil {
			return err
		}
		defer res.Close()
		for res.Next() {
			row := make([]any, columnCount)
			ptrs := make([]any, columnCount)
			for i := range row {
				ptrs[i] = &row[i]
			}
			if err := res.Scan(ptrs...); err != nil {
				return err
			}
			rows = append(rows, row)
		}
		return res.Err()
	}()
	if err != nil {
		return 0, after, fmt.Errorf("find events to move out: %w", err)
	}
	if len(rows) < batch {
		return 0, after, nil
	}
	pos := func(row []any) int64 { return row[0].(int64) }
	positions := make([]any, len(rows))
	for i, row := range rows {
		positions[i] = pos(row)
	}
	for _, row := range rows {
		if err := r.cold.PutEventJSON(ctx, pos(row), row[jsonColumn].([]byte)); err != nil {
			return 0, after, fmt.Errorf("move event %d out: %w", pos(row), err)
		}
	}
	// Deleted and inserted again rather than updated: SQLite merges pages
	// a deletion leaves underfull, but not pages an update shrinks, and the
	// database would keep its size.
	insert := `INSERT INTO events (` + eventColumns + `) VALUES (?` + strings.Repeat(", ?", columnCount-1) + `)`
	var changed []int64 // put, but the row changed meanwhile (a redaction)
	err = r.db.Write(ctx, func(tx *sql.Tx) error {
		changed = changed[:0]
		// Compared here rather than in the DELETE's WHERE: a statement's
		// parameters are journaled (js/storage), and the JSON would be
		// written to the journal once more.
		now, err := jsonAt(ctx, tx, positions)
		if err != nil {
			return err
		}
		for _, row := range rows {
			if !bytes.Equal(now[pos(row)], row[jsonColumn].([]byte)) {
				changed = append(changed, pos(row))
				continue
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM events WHERE stream_pos = ?`, pos(row)); err != nil {
				return fmt.Errorf("empty event %d: %w", pos(row), err)
			}
			cold := slices.Clone(row)
			cold[jsonColumn] = []byte("{}")
			if _, err := tx.ExecContext(ctx, insert, cold...); err != nil {
				return fmt.Errorf("empty event %d: %w", pos(row), err)
			}
		}
		return nil
	})
	if err != nil {
		return 0, after, err
	}
	// Those rows were rewritten with what must replace their old JSON
	// everywhere (redacted): the copy just put goes.
	for _, p := range changed {
		if err := r.cold.DeleteEventJSON(ctx, p); err != nil {
			return 0, after, fmt.Errorf("drop the stale copy of event %d: %w", p, err)
		}
	}
	return len(rows) - len(changed), pos(rows[len(rows)-1]), nil
}

// jsonAt reads, inside tx, the JSON the rows at the given positions hold now.
func jsonAt(ctx context.Context, tx *sql.Tx, positions []any) (map[int64][]byte, error) {
	res, err := tx.QueryContext(ctx, `SELECT stream_pos, json FROM events WHERE stream_pos IN (?`+strings.Repeat(",?", len(positions)-1)+`)`, positions...)
	if err != nil {
		return nil, fmt.Errorf("read events to empty: %w", err)
	}
	defer res.Close()
	out := make(map[int64][]byte, len(positions))
	for res.Next() {
		var p int64
		var raw []byte
		if err := res.Scan(&p, &raw); err != nil {
			return nil, fmt.Errorf("read events to empty: %w", err)
		}
		out[p] = raw
	}
	return out, res.Err()
}

// storedJSON is an event row's JSON as read: coldJSON when the event is cold.
type storedJSON struct {
	pos int64
	raw []byte
}

// coldReadsAtOnce bounds the store reads one warm has in flight: in the
// browser each is an IndexedDB transaction, and a /messages page of cold
// events read one after another took ~100 ms.
const coldReadsAtOnce = 8

// warm fills in the JSON of the cold rows among rows from the store.
func (r *core) warm(ctx context.Context, rows []storedJSON) error {
	var cold []int
	for i := range rows {
		if isCold(rows[i].raw) {
			cold = append(cold, i)
		}
	}
	if len(cold) == 0 {
		return nil
	}
	if r.cold == nil {
		return fmt.Errorf("event %d is kept outside the database, and this server has no store for it", rows[cold[0]].pos)
	}
	errs := make([]error, len(cold))
	var wg sync.WaitGroup
	slots := make(chan struct{}, coldReadsAtOnce)
	for n, i := range cold {
		wg.Add(1)
		slots <- struct{}{}
		go func() {
			defer func() { <-slots; wg.Done() }()
			raw, err := r.cold.EventJSON(ctx, rows[i].pos)
			if err != nil {
				errs[n] = fmt.Errorf("load event %d from outside the database: %w", rows[i].pos, err)
				return
			}
			rows[i].raw = raw
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// warmRow writes a cold event's JSON back into its row, inside w; it
// reports whether the event was cold. It is for rows a statement will read
// the JSON of (a redaction's unindexing, a new thread root's sender).
// loaded is the event's JSON when the caller has already read it, else nil:
// it is read from the store.
func (r *core) warmRow(ctx context.Context, w *writeTx, eventID string, loaded []byte) (pos int64, wasCold bool, err error) {
	var raw []byte
	err = w.tx.QueryRowContext(ctx, `SELECT stream_pos, json FROM events WHERE event_id = ?`, eventID).Scan(&pos, &raw)
	if err == sql.ErrNoRows || (err == nil && !isCold(raw)) {
		return pos, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("look up event %s: %w", eventID, err)
	}
	rows := []storedJSON{{pos: pos, raw: raw}}
	if loaded != nil {
		rows[0].raw = loaded
	} else if err := r.warm(ctx, rows); err != nil {
		return 0, false, err
	}
	if _, err := w.tx.ExecContext(ctx, `UPDATE events SET json = ? WHERE stream_pos = ?`, rows[0].raw, pos); err != nil {
		return 0, false, fmt.Errorf("bring event %s back into the database: %w", eventID, err)
	}
	return pos, true, nil
}

// warmThreadRoot brings a thread's root back into the database when ev is
// its first reply (see the top of this file). Its copy stays (see there why).
func (r *core) warmThreadRoot(ctx context.Context, w *writeTx, rel relatesTo) error {
	if rel.RelType != RelThread {
		return nil
	}
	_, _, err := r.warmRow(ctx, w, rel.EventID, nil)
	return err
}
