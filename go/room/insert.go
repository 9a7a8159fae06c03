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
	// before and after are its state snapshots, if computed.
	before, after sql.NullInt64
}

// insertEvent stores an event and its edges in the event graph. An outlier
// already stored is replaced: the event has now found its place.
func insertEvent(ctx context.Context, w *writeTx, row eventRow) (StreamPos, error) {
	ev := row.ev
	if _, err := w.tx.ExecContext(ctx, `DELETE FROM events WHERE event_id = ? AND outlier = 1`, ev.EventID()); err != nil {
		return 0, fmt.Errorf("replace outlier %s: %w", ev.EventID(), err)
	}
	var pos any // NULL: the next position
	if row.historical {
		var p int64
		if err := w.tx.QueryRowContext(ctx, `SELECT MIN(COALESCE(MIN(stream_pos), 0), 0) - 1 FROM events`).Scan(&p); err != nil {
			return 0, fmt.Errorf("choose a historical position: %w", err)
		}
		pos = p
	}
	var rejected any
	if row.rejected != "" {
		rejected = row.rejected
	}
	res, err := w.tx.ExecContext(ctx,
		`INSERT INTO events (stream_pos, event_id, room_id, type, state_key, depth, json, rejected, outlier, soft_failed, state_before, state_after)
		 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		pos, ev.EventID(), ev.RoomID().String(), ev.Type(), ev.StateKey(), ev.Depth(), ev.JSON(),
		rejected, row.outlier, row.softFailed, row.before, row.after)
	if err != nil {
		return 0, fmt.Errorf("insert event %s: %w", ev.EventID(), err)
	}
	inserted, err := res.LastInsertId()
	if err != nil {
		return 0, fmt.Errorf("stream position of %s: %w", ev.EventID(), err)
	}
	for kind, targets := range map[string][]string{"prev": ev.PrevEventIDs(), "auth": ev.AuthEventIDs()} {
		for _, t := range targets {
			if _, err := w.tx.ExecContext(ctx, `INSERT OR IGNORE INTO event_edges (event_id, kind, target_id) VALUES (?, ?, ?)`,
				ev.EventID(), kind, t); err != nil {
				return 0, fmt.Errorf("insert %s edge: %w", kind, err)
			}
		}
	}
	p := StreamPos(inserted)
	if p > w.lastPos {
		w.lastPos = p
	}
	return p, nil
}

// federate hands a new event to the outbox, addressed to every other server
// joined to the room before or after it.
func (r *Rooms) federate(ctx context.Context, w *writeTx, v gomatrixserverlib.IRoomVersion, ev gomatrixserverlib.PDU, snapshots ...int64) error {
	if r.outbox == nil {
		return nil
	}
	servers := map[spec.ServerName]bool{}
	for _, id := range snapshots {
		s, err := loadSnapshot(ctx, w.tx, id)
		if err != nil {
			return err
		}
		joined, err := joinedServers(ctx, w.tx, v, s)
		if err != nil {
			return err
		}
		for s := range joined {
			servers[s] = true
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
