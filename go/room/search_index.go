package room

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/sirupsen/logrus"
)

// The full-text index of the searchable text of events (table event_search,
// rowid = stream position, one text per event in its column "body"), which
// Search reads. A redacted event leaves it. The index keeps no copy of the
// texts: it reads them from the events' JSON (the view event_search_bodies,
// go/storage migration 20), so a text is unindexed while its JSON still
// holds it, and indexed only as that view shows it.
//
// New events are indexed after the write that stores them, not in it:
// indexing a message in its own send's write was a fifth of the send's time
// natively, most of it the index's per-transaction flush. The index holds
// every event up to search_index_position.indexed_to (migration 23); those
// after it are indexed by catchUpSearchIndex, which runs before every search,
// before the cold mover empties rows (the index must read a text from its
// row), and in the background a moment after writes that stored searchable
// events (RunSearchIndexer). Historical events (backfill) take positions
// below every other, hence below indexed_to: they are indexed in their write.

// SearchKeys are the keys /search can search (client-server API v1.11,
// "POST /search": keys), each the one text of one event type, so the event
// type says which key an indexed text is.
var SearchKeys = map[string]string{
	"content.body":  "m.room.message",
	"content.name":  "m.room.name",
	"content.topic": "m.room.topic",
}

// searchable reports whether an event is of a type whose text is indexed: a
// message, a room's name or topic.
func searchable(ev gomatrixserverlib.PDU) bool {
	switch ev.Type() {
	case "m.room.message":
		return true
	case "m.room.name", "m.room.topic":
		return ev.StateKeyEquals("")
	}
	return false
}

// searchText returns the indexed text of an event: a message's body, a
// room name or topic; "" for other events.
func searchText(ev gomatrixserverlib.PDU) string {
	if !searchable(ev) {
		return ""
	}
	var c struct {
		Body  string `json:"body"`
		Name  string `json:"name"`
		Topic string `json:"topic"`
	}
	if json.Unmarshal(ev.Content(), &c) != nil {
		return ""
	}
	switch ev.Type() {
	case "m.room.name":
		return c.Name
	case "m.room.topic":
		return c.Topic
	}
	return c.Body
}

// indexBody adds the searchable text of an event with a place in the
// timeline, as the view shows it: what the index reads back when the row is
// deleted. Which text, and whether it is empty, the view decides: no need
// to decode the event here.
func indexBody(ctx context.Context, tx *sql.Tx, ev gomatrixserverlib.PDU, pos StreamPos) error {
	if !searchable(ev) {
		return nil
	}
	if err := indexTexts(ctx, tx, int64(pos)-1, int64(pos)); err != nil {
		return fmt.Errorf("index text of %s: %w", ev.EventID(), err)
	}
	return nil
}

// indexTexts adds the texts of the events after position from up to to, as
// the view shows them.
func indexTexts(ctx context.Context, tx *sql.Tx, from, to int64) error {
	_, err := tx.ExecContext(ctx,
		`INSERT INTO event_search (rowid, body) SELECT rowid, body FROM event_search_bodies WHERE rowid > ? AND rowid <= ? AND body != ''`, from, to)
	return err
}

// unindexBody removes a redacted event's body; call it before the JSON is
// redacted. An event not indexed yet has nothing to remove: the index would
// take out words it never held (its text is read from the row), and the
// catch-up will read the redacted JSON.
func unindexBody(ctx context.Context, tx *sql.Tx, eventID string) error {
	if _, err := tx.ExecContext(ctx,
		`DELETE FROM event_search WHERE rowid = (SELECT stream_pos FROM events
		   WHERE event_id = ? AND stream_pos <= (SELECT indexed_to FROM search_index_position))`, eventID); err != nil {
		return fmt.Errorf("unindex body of %s: %w", eventID, err)
	}
	return nil
}

// searchIndexBatch is how many stream positions one catch-up write covers
// at most: a long backlog is indexed in writes that let other writers go
// in between.
const searchIndexBatch = 1000

// searchIndexGap returns the index's position and the newest event's.
func searchIndexGap(ctx context.Context, q querier) (indexedTo, newest int64, err error) {
	err = q.QueryRowContext(ctx, `SELECT indexed_to, (SELECT COALESCE(MAX(stream_pos), 0) FROM events) FROM search_index_position`).Scan(&indexedTo, &newest)
	if err != nil {
		return 0, 0, fmt.Errorf("read the search index's position: %w", err)
	}
	return indexedTo, newest, nil
}

// catchUpSearchIndex indexes the events stored after indexed_to, and returns
// the index's position and the newest event's as it last read them (caught
// up then). When there is nothing to index it only reads: no write, no commit.
func (r *core) catchUpSearchIndex(ctx context.Context) (indexedTo, newest int64, err error) {
	for {
		indexedTo, newest, err := searchIndexGap(ctx, reader{r.db})
		if err != nil || indexedTo >= newest {
			return indexedTo, newest, err
		}
		err = r.db.Write(ctx, func(tx *sql.Tx) error {
			indexedTo, newest, err := searchIndexGap(ctx, tx)
			if err != nil || indexedTo >= newest {
				return err
			}
			to := min(newest, indexedTo+searchIndexBatch)
			if err := indexTexts(ctx, tx, indexedTo, to); err != nil {
				return fmt.Errorf("index the texts of events %d to %d: %w", indexedTo+1, to, err)
			}
			if _, err := tx.ExecContext(ctx, `UPDATE search_index_position SET indexed_to = ?`, to); err != nil {
				return fmt.Errorf("move the search index's position: %w", err)
			}
			return nil
		})
		if err != nil {
			return 0, 0, err
		}
	}
}

// searchIndexDelay is how long RunSearchIndexer waits after a write that
// stored searchable events, by default: one catch-up then covers what a
// conversation sent meanwhile.
const searchIndexDelay = time.Second

// RunSearchIndexer keeps the full-text index up to date until ctx ends: a
// delay (0: searchIndexDelay) after a write stores searchable events, and
// once at start for what a previous life left.
func (r *Rooms) RunSearchIndexer(ctx context.Context, delay time.Duration) {
	if delay <= 0 {
		delay = searchIndexDelay
	}
	log := logrus.WithField("component", "search index")
	r.Perform.wakeSearchIndexer()
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.Perform.searchDue:
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		if _, _, err := r.Perform.catchUpSearchIndex(ctx); err != nil && ctx.Err() == nil {
			log.WithError(err).Warn("indexing new events for search failed; trying again after the next write or search")
		}
	}
}

// wakeSearchIndexer tells RunSearchIndexer that events wait to be indexed.
func (r *core) wakeSearchIndexer() {
	select {
	case r.searchDue <- struct{}{}:
	default: // already told
	}
}
