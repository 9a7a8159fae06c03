package push

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"

	"hearth/go/pushrules"
	"hearth/go/room"
)

// NewEvent is room.NewEventHook: it evaluates the push rules of each local
// user the event may notify, stores the notifications, and records the
// sender's own read position. It returns the pushes to make once the write
// has committed.
func (p *Push) NewEvent(ctx context.Context, tx *sql.Tx, ev gomatrixserverlib.PDU, pos room.StreamPos, audience room.Audience) (func(), error) {
	roomID := ev.RoomID().String()
	sender := string(ev.SenderID())
	if _, domain, err := gomatrixserverlib.SplitID('@', sender); err == nil && domain == p.server {
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO own_event_positions (user_id, room_id, stream_pos) VALUES (?, ?, ?)
			 ON CONFLICT (user_id, room_id) DO UPDATE SET stream_pos = MAX(stream_pos, excluded.stream_pos)`,
			sender, roomID, int64(pos)); err != nil {
			return nil, fmt.Errorf("record own event position: %w", err)
		}
	}
	candidates := p.candidates(ev, audience)
	if len(candidates) == 0 {
		return nil, nil
	}
	event := clientEventJSON(ev)
	var plErr error
	base := pushrules.Room{
		MemberCount: len(audience.Joined),
		SenderMayNotify: func(key string) bool {
			pl, err := audience.PowerLevels()
			if err != nil {
				plErr = err
				return false
			}
			return pl.UserLevel(ev.SenderID()) >= pl.NotificationLevel(key)
		},
	}
	threadID := threadOf(ev)
	senderName := displayNameOf(audience, sender)
	ts := p.opts.Now().UnixMilli()
	var pushes []delivery
	for _, m := range candidates {
		rules, err := rulesOf(ctx, tx, m.UserID)
		if err != nil {
			return nil, err
		}
		r := base
		r.DisplayName = m.DisplayName
		result := pushrules.Evaluate(rules, event, r)
		if plErr != nil {
			return nil, plErr
		}
		if !result.Notify {
			continue
		}
		actions, err := json.Marshal(result.Actions)
		if err != nil {
			return nil, fmt.Errorf("marshal actions: %w", err)
		}
		if _, err := tx.ExecContext(ctx,
			`INSERT OR REPLACE INTO notifications (user_id, stream_pos, room_id, event_id, thread_id, highlight, actions, ts)
			 VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			m.UserID.String(), int64(pos), roomID, ev.EventID(), threadID, result.Highlight, actions, ts); err != nil {
			return nil, fmt.Errorf("store notification of %s for %s: %w", ev.EventID(), m.UserID.String(), err)
		}
		if int64(pos)%pruneEvery == 0 {
			if err := prune(ctx, tx, m.UserID, maxKept); err != nil {
				return nil, err
			}
		}
		pushes = append(pushes, delivery{user: m.UserID, event: ev, actions: result.Actions, senderName: senderName})
	}
	if len(pushes) == 0 || p.opts.Gateway == nil || p.opts.Pushers == nil {
		return nil, nil
	}
	return func() {
		for _, d := range pushes {
			p.enqueue(d)
		}
	}, nil
}

// A user keeps their newest maxKept notifications; older ones go, checked
// once every pruneEvery stream positions (the check reads maxKept index
// entries, too many for every event).
const (
	maxKept    = 10000
	pruneEvery = 128
)

// prune keeps user's newest keep notifications.
func prune(ctx context.Context, tx *sql.Tx, user spec.UserID, keep int) error {
	_, err := tx.ExecContext(ctx,
		`DELETE FROM notifications WHERE user_id = ? AND stream_pos <
		   (SELECT stream_pos FROM notifications WHERE user_id = ? ORDER BY stream_pos DESC LIMIT 1 OFFSET ?)`,
		user.String(), user.String(), keep-1)
	if err != nil {
		return fmt.Errorf("prune notifications of %s: %w", user.String(), err)
	}
	return nil
}

// candidates are the local users an event may notify: the room's joined
// local members but its sender, and a local user it invites.
func (p *Push) candidates(ev gomatrixserverlib.PDU, audience room.Audience) []room.Member {
	sender := string(ev.SenderID())
	var out []room.Member
	for _, m := range audience.Joined {
		if m.UserID.Domain() == p.server && m.UserID.String() != sender {
			out = append(out, m)
		}
	}
	if ev.Type() == spec.MRoomMember && ev.StateKey() != nil && *ev.StateKey() != sender {
		if membership, err := ev.Membership(); err == nil && membership == spec.Invite {
			if target, err := spec.NewUserID(*ev.StateKey(), true); err == nil && target.Domain() == p.server {
				out = append(out, room.Member{UserID: *target})
			}
		}
	}
	return out
}

// rulesOf reads user's push rules through the write (the defaults when none
// are stored).
func rulesOf(ctx context.Context, tx *sql.Tx, user spec.UserID) (pushrules.Ruleset, error) {
	var raw []byte
	err := tx.QueryRowContext(ctx, `SELECT content FROM account_data WHERE user_id = ? AND room_id = '' AND type = ?`,
		user.String(), pushrules.AccountDataType).Scan(&raw)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return pushrules.Ruleset{}, fmt.Errorf("load push rules of %s: %w", user.String(), err)
	}
	return pushrules.Decode(raw, user), nil
}

// clientEventJSON is the event as rules see it: the client format's keys
// (type, content, sender, state_key, room_id, event_id, origin_server_ts).
func clientEventJSON(ev gomatrixserverlib.PDU) json.RawMessage {
	out := map[string]any{
		"type": ev.Type(), "content": json.RawMessage(ev.Content()), "sender": string(ev.SenderID()),
		"room_id": ev.RoomID().String(), "event_id": ev.EventID(), "origin_server_ts": int64(ev.OriginServerTS()),
	}
	if ev.StateKey() != nil {
		out["state_key"] = *ev.StateKey()
	}
	raw, err := json.Marshal(out)
	if err != nil {
		return nil // content is valid JSON: it came from a checked event
	}
	return raw
}

// threadOf returns the root of the thread an event is in ("" for the main
// timeline): the event a m.thread relation points at.
func threadOf(ev gomatrixserverlib.PDU) string {
	var c struct {
		RelatesTo struct {
			RelType string `json:"rel_type"`
			EventID string `json:"event_id"`
		} `json:"m.relates_to"`
	}
	if json.Unmarshal(ev.Content(), &c) == nil && c.RelatesTo.RelType == "m.thread" {
		return c.RelatesTo.EventID
	}
	return ""
}

func displayNameOf(audience room.Audience, user string) string {
	for _, m := range audience.Joined {
		if m.UserID.String() == user {
			return m.DisplayName
		}
	}
	return ""
}
