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

// EnsureRoom records a room this server learns of from another server.
func (r *Inputer) EnsureRoom(ctx context.Context, roomID string, version gomatrixserverlib.RoomVersion) error {
	if !Supported(version) {
		return fmt.Errorf("%w: %q", ErrUnsupportedVersion, version)
	}
	return r.write(ctx, func(w *writeTx) error {
		var have string
		err := w.tx.QueryRowContext(ctx, `SELECT room_version FROM rooms WHERE room_id = ?`, roomID).Scan(&have)
		if err == nil {
			if have != string(version) {
				return fmt.Errorf("%w: room %s is version %s, not %s", ErrBadEvent, roomID, have, version)
			}
			return nil
		}
		_, err = w.tx.ExecContext(ctx, `INSERT INTO rooms (room_id, room_version) VALUES (?, ?)`, roomID, string(version))
		if err != nil {
			return fmt.Errorf("insert room: %w", err)
		}
		return nil
	})
}

// StoreOutliers stores events known only as state or auth chain (send_join,
// state, event_auth answers), each checked against its own auth events.
// Those that fail are stored as rejected.
func (r *Inputer) StoreOutliers(ctx context.Context, roomID string, events []gomatrixserverlib.PDU) error {
	ordered := authOrder(events)
	return r.write(ctx, func(w *writeTx) error {
		v, err := roomVersion(ctx, w.tx, roomID)
		if err != nil {
			return err
		}
		for _, ev := range ordered {
			if ev.RoomID().String() != roomID || ev.Version() != v.Version() {
				return fmt.Errorf("%w: outlier %s is not an event of %s", ErrBadEvent, ev.EventID(), roomID)
			}
			have, err := r.loadEvents(ctx, w.tx, v, append([]string{ev.EventID()}, ev.AuthEventIDs()...))
			if err != nil {
				return err
			}
			if _, ok := have[ev.EventID()]; ok {
				continue
			}
			reason := ""
			for _, id := range ev.AuthEventIDs() {
				if a, ok := have[id]; !ok || a.Rejected {
					reason = "auth event " + id + " missing or rejected"
				}
			}
			if reason == "" {
				reason = authSelectionFault(ev, have)
			}
			if reason == "" {
				authSet, err := r.authEventsByID(ctx, w.tx, v, ev.AuthEventIDs())
				if err != nil {
					return err
				}
				if err := gomatrixserverlib.Allowed(ev, authSet, userIDForSender); err != nil {
					reason = "not allowed by its auth events: " + err.Error()
				}
			}
			if reason != "" {
				log.WithField("event_id", ev.EventID()).WithField("reason", reason).Warn("rejected outlier")
			}
			if _, err := r.insertEvent(ctx, w, eventRow{ev: ev, outlier: true, rejected: reason}); err != nil {
				return err
			}
		}
		return nil
	})
}

// StoreRemoteMembership records a membership event of a local user in a room
// this server may not be in: an invite from another server (with the
// stripped state to show with it) or the leave that rejected one. If a local
// user is joined, the event also arrives through the room and current state
// stays the room's; otherwise it becomes the user's current membership.
func (r *Inputer) StoreRemoteMembership(ctx context.Context, ev gomatrixserverlib.PDU, inviteState []byte) error {
	roomID := ev.RoomID().String()
	if err := r.EnsureRoom(ctx, roomID, ev.Version()); err != nil {
		return err
	}
	return r.write(ctx, func(w *writeTx) error {
		v, err := roomVersion(ctx, w.tx, roomID)
		if err != nil {
			return err
		}
		have, err := r.loadEvents(ctx, w.tx, v, []string{ev.EventID()})
		if err != nil {
			return err
		}
		if _, ok := have[ev.EventID()]; !ok {
			if _, err := r.insertEvent(ctx, w, eventRow{ev: ev, outlier: true}); err != nil {
				return err
			}
		}
		resident, err := r.resident(ctx, w.tx, roomID)
		if err != nil || resident {
			return err
		}
		m, err := ev.Membership()
		if err != nil {
			return fmt.Errorf("%w: %v", ErrBadEvent, err)
		}
		r.auth.invalidate() // current_state changes with no new state group
		if _, err := w.tx.ExecContext(ctx,
			`INSERT INTO current_state (room_id, type, state_key, event_id, membership) VALUES (?, 'm.room.member', ?, ?, ?)
			 ON CONFLICT (room_id, type, state_key) DO UPDATE SET event_id = excluded.event_id, membership = excluded.membership`,
			roomID, *ev.StateKey(), ev.EventID(), m); err != nil {
			return fmt.Errorf("update membership: %w", err)
		}
		if inviteState != nil {
			return storeInviteState(ctx, w.tx, ev, inviteState)
		}
		return nil
	})
}

// MaxPendingInvitesPerServer bounds the invites of this server's users that
// one other server may have pending: in the browser the whole database lives
// in memory (issue 11: three invites stored 25 MB).
const MaxPendingInvitesPerServer = 100

// storeInviteState keeps an invite's stripped state, refusing (ErrForbidden)
// one more pending invite from a server that already has its maximum.
func storeInviteState(ctx context.Context, tx *sql.Tx, invite gomatrixserverlib.PDU, inviteState []byte) error {
	roomID, invitee := invite.RoomID().String(), *invite.StateKey()
	sender, err := spec.NewUserID(string(invite.SenderID()), true)
	if err != nil {
		return fmt.Errorf("%w: invite sender: %v", ErrBadEvent, err)
	}
	origin := string(sender.Domain())
	var pending int
	err = tx.QueryRowContext(ctx,
		`SELECT COUNT(*) FROM invite_state i JOIN current_state cs
		   ON cs.room_id = i.room_id AND cs.type = 'm.room.member' AND cs.state_key = i.user_id
		 WHERE i.origin = ? AND cs.membership = 'invite' AND NOT (i.room_id = ? AND i.user_id = ?)`,
		origin, roomID, invitee).Scan(&pending)
	if err != nil {
		return fmt.Errorf("count pending invites from %s: %w", origin, err)
	}
	if pending >= MaxPendingInvitesPerServer {
		return fmt.Errorf("%w: %d invites from %s are already pending here", ErrForbidden, pending, origin)
	}
	if _, err := tx.ExecContext(ctx,
		`INSERT INTO invite_state (room_id, user_id, events, origin) VALUES (?, ?, ?, ?)
		 ON CONFLICT (room_id, user_id) DO UPDATE SET events = excluded.events, origin = excluded.origin`,
		roomID, invitee, inviteState, origin); err != nil {
		return fmt.Errorf("store invite state: %w", err)
	}
	return nil
}

// authOrder sorts events so that each comes after the auth events among
// them (Kahn's algorithm; ties by depth, then event ID, so the order is
// deterministic). Duplicates are dropped.
func authOrder(events []gomatrixserverlib.PDU) []gomatrixserverlib.PDU {
	byID := map[string]gomatrixserverlib.PDU{}
	for _, ev := range events {
		byID[ev.EventID()] = ev
	}
	waiting := map[string]int{}         // event → auth events in the set not yet placed
	dependents := map[string][]string{} // auth event → events waiting for it
	for id, ev := range byID {
		for _, a := range ev.AuthEventIDs() {
			if _, ok := byID[a]; ok && a != id {
				waiting[id]++
				dependents[a] = append(dependents[a], id)
			}
		}
	}
	less := func(a, b string) int {
		if d := byID[a].Depth() - byID[b].Depth(); d != 0 {
			return int(d)
		}
		return strings.Compare(a, b)
	}
	var ready []string
	for id := range byID {
		if waiting[id] == 0 {
			ready = append(ready, id)
		}
	}
	out := make([]gomatrixserverlib.PDU, 0, len(byID))
	for len(ready) > 0 {
		slices.SortFunc(ready, less)
		id := ready[0]
		ready = ready[1:]
		out = append(out, byID[id])
		for _, d := range dependents[id] {
			if waiting[d]--; waiting[d] == 0 {
				ready = append(ready, d)
			}
		}
	}
	// Events in an auth cycle (only a forged set has one) come last, and fail.
	for id, n := range waiting {
		if n > 0 {
			out = append(out, byID[id])
		}
	}
	return out
}
