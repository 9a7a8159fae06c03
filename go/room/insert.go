package room

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"
)

// eventRow is an event to insert and what this server knows about it.
type eventRow struct {
	ev         gomatrixserverlib.PDU
	historical bool   // backfilled: placed before every event already held
	outlier    bool   // no place in the timeline
	softFailed bool   // current state refused it: hidden, never an extremity
	rejected   string // why the auth rules refused it; "" if accepted
	// before is the group of its state before, if computed.
	before sql.NullInt64
	// newKey says that state has no event for ev's (type, state_key).
	newKey bool
	// local: ev was built in this write at the room's forward extremities
	// (store). So no copy of it is stored (not even as an outlier), no event
	// names it as a prev event yet, and its prev events are in the timeline
	// (an extremity is a timeline event: both writers of room_extremities add
	// one just put there, and no event leaves the timeline). insertEvent
	// then skips the statements that would find nothing: 4 of a message's 19
	// in wasm, where each costs a bridge crossing.
	local bool
}

// insertedEvent is where insertEvent put an event.
type insertedEvent struct {
	pos   StreamPos
	after sql.NullInt64 // the group of its state after, if computed
	// hadChildren says timeline events (accepted, not soft-failed, not
	// backfilled) held before it name it as a prev event: it is no extremity.
	hadChildren bool
}

// insertEvent stores an event. An outlier already stored is replaced: the
// event has now found its place. The state after an accepted state event
// with a known state before is that state plus the event (a new event
// group); after any other event it is the state before.
//
// The event graph lives in the events' JSON; what is kept apart are the prev
// events of timeline events that are not in the timeline themselves
// (missing_prev_events): backward extremities, and how a parent arriving
// after its children learns it has some.
func (r *core) insertEvent(ctx context.Context, w *writeTx, row eventRow) (insertedEvent, error) {
	ev := row.ev
	var out insertedEvent
	if !row.local {
		if _, err := w.tx.ExecContext(ctx, `DELETE FROM events WHERE event_id = ? AND outlier = 1`, ev.EventID()); err != nil {
			return out, fmt.Errorf("replace outlier %s: %w", ev.EventID(), err)
		}
	}
	var pos any // NULL: the next position
	if row.historical {
		var p int64
		if err := w.tx.QueryRowContext(ctx, `SELECT MIN(COALESCE(MIN(stream_pos), 0), 0) - 1 FROM events`).Scan(&p); err != nil {
			return out, fmt.Errorf("choose a historical position: %w", err)
		}
		pos = p
	}
	var rejected any
	if row.rejected != "" {
		rejected = row.rejected
	}
	addsState := ev.StateKey() != nil && row.rejected == "" && row.before.Valid
	out.after = row.before
	if addsState {
		out.after = sql.NullInt64{} // set once the event's position is known
	}
	res, err := w.tx.ExecContext(ctx,
		`INSERT INTO events (stream_pos, event_id, room_id, type, state_key, depth, json, rejected, outlier, soft_failed, state_before, state_after)
		 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		pos, ev.EventID(), ev.RoomID().String(), ev.Type(), ev.StateKey(), ev.Depth(), ev.JSON(),
		rejected, row.outlier, row.softFailed, row.before, out.after)
	if err != nil {
		return out, fmt.Errorf("insert event %s: %w", ev.EventID(), err)
	}
	inserted, err := res.LastInsertId()
	if err != nil {
		return out, fmt.Errorf("stream position of %s: %w", ev.EventID(), err)
	}
	out.pos = StreamPos(inserted)
	if !ev.Redacted() { // as loadEvent parses it
		parsed.remember(ev)
	}
	if rel, err := indexRelation(ctx, w.tx, ev); err != nil {
		return out, err
	} else if !row.outlier && row.rejected == "" {
		if err := r.warmThreadRoot(ctx, w, rel); err != nil {
			return out, err
		}
	}
	switch {
	case row.outlier:
	case row.historical: // below the search index's position (search_index.go)
		if err := indexBody(ctx, w.tx, ev, out.pos); err != nil {
			return out, err
		}
	case searchable(ev):
		w.searchDue = true // indexed after this write
	}
	if addsState {
		group, err := insertEventGroup(ctx, w.tx, row.before.Int64, ev, out.pos, row.newKey)
		if err != nil {
			return out, err
		}
		if _, err := w.tx.ExecContext(ctx, `UPDATE events SET state_after = ? WHERE stream_pos = ?`, group, inserted); err != nil {
			return out, fmt.Errorf("set state after %s: %w", ev.EventID(), err)
		}
		out.after = sql.NullInt64{Int64: group, Valid: true}
	}
	if !row.outlier && !row.local {
		if out.hadChildren, err = takeMissingPrev(ctx, w.tx, ev, out.pos); err != nil {
			return out, err
		}
	}
	if out.pos > w.lastPos {
		w.lastPos = out.pos
	}
	return out, nil
}

// takeMissingPrev records the prev events of a new timeline event that are
// not in the timeline, and forgets the event itself as a missing prev event,
// saying whether accepted live events named it.
func takeMissingPrev(ctx context.Context, tx *sql.Tx, ev gomatrixserverlib.PDU, pos StreamPos) (hadChildren bool, err error) {
	for _, prev := range ev.PrevEventIDs() {
		if _, err := tx.ExecContext(ctx,
			`INSERT OR IGNORE INTO missing_prev_events (prev_id, event_pos)
			 SELECT ?, ? WHERE NOT EXISTS (SELECT 1 FROM events WHERE event_id = ? AND outlier = 0)`, prev, int64(pos), prev); err != nil {
			return false, fmt.Errorf("record missing prev event: %w", err)
		}
	}
	if err := tx.QueryRowContext(ctx,
		`SELECT EXISTS (SELECT 1 FROM missing_prev_events m JOIN events e ON e.stream_pos = m.event_pos
		 WHERE m.prev_id = ? AND e.rejected IS NULL AND e.soft_failed = 0 AND e.stream_pos > 0)`,
		ev.EventID()).Scan(&hadChildren); err != nil {
		return false, fmt.Errorf("look for successors: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM missing_prev_events WHERE prev_id = ?`, ev.EventID()); err != nil {
		return false, fmt.Errorf("forget missing prev event: %w", err)
	}
	return hadChildren, nil
}

// federate hands a new event to the outbox, addressed to every other server
// joined to the room now (current state includes the event: joined are its
// joined members, from joinedMembers) and, for a membership change, to the
// target's server if its user was joined before (a kick or a ban must reach
// the kicked). These are the servers joined before or after the event: only
// its own key differs between the two.
func (r *core) federate(ctx context.Context, w *writeTx, ev gomatrixserverlib.PDU, membershipBefore string, joined []Member) error {
	if r.outbox == nil {
		return nil
	}
	servers := map[spec.ServerName]bool{}
	for _, m := range joined {
		servers[m.UserID.Domain()] = true
	}
	if ev.Type() == spec.MRoomMember && membershipBefore == spec.Join {
		if _, server, err := gomatrixserverlib.SplitID('@', *ev.StateKey()); err == nil {
			servers[server] = true
		}
	}
	// Neither this server nor the event's own (which has it) needs it sent.
	delete(servers, r.identity.ServerName)
	if _, origin, err := gomatrixserverlib.SplitID('@', string(ev.SenderID())); err == nil {
		delete(servers, origin)
	}
	if len(servers) == 0 {
		return nil
	}
	dests := keys(servers)
	slices.SortFunc(dests, func(a, b spec.ServerName) int { return strings.Compare(string(a), string(b)) })
	after, err := r.outbox(ctx, w.tx, ev, dests)
	if err != nil {
		return fmt.Errorf("queue %s for federation: %w", ev.EventID(), err)
	}
	if after != nil {
		w.afterCommit = append(w.afterCommit, after)
	}
	return nil
}
