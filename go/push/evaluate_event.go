package push

import (
	"context"
	"database/sql"
	"encoding/json"
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
	var afterCommit []func()
	if _, domain, err := gomatrixserverlib.SplitID('@', sender); err == nil && domain == p.server {
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO own_event_positions (user_id, room_id, stream_pos) VALUES (?, ?, ?)
			 ON CONFLICT (user_id, room_id) DO UPDATE SET stream_pos = MAX(stream_pos, excluded.stream_pos)`,
			sender, roomID, int64(pos)); err != nil {
			return nil, fmt.Errorf("record own event position: %w", err)
		}
		afterCommit = append(afterCommit, func() { p.caughtUp.ownEvent(sender, roomID, pos) })
	}
	candidates := p.candidates(ev, audience)
	if len(candidates) == 0 {
		return runAll(afterCommit), nil
	}
	content, err := decodeContent(ev)
	if err != nil {
		return nil, nil // content came from a checked event; nothing in it can notify
	}
	event := pushrules.NewEvent(clientEvent(ev, content))
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
	threadID := threadOf(content)
	senderName := displayNameOf(audience, sender)
	ts := p.opts.Now().UnixMilli()
	var pushes []delivery
	var notified []notifiedUser
	// keeps cache the rules read from the database once the write commits.
	var keeps []func()
	for _, m := range candidates {
		rules, keep, err := p.accountData.PushRulesTx(ctx, tx, m.UserID)
		if err != nil {
			return nil, err
		}
		if keep != nil {
			keeps = append(keeps, keep)
		}
		r := base
		r.DisplayName = m.DisplayName
		result := event.Evaluate(rules, r)
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
		notified = append(notified, notifiedUser{UserID: m.UserID.String(), Highlight: result.Highlight, Actions: string(actions)})
		pushes = append(pushes, delivery{user: m.UserID, event: ev, actions: result.Actions, senderName: senderName})
	}
	if err := storeNotifications(ctx, tx, roomID, ev.EventID(), pos, threadID, ts, notified); err != nil {
		return nil, err
	}
	for _, n := range notified {
		p.caughtUp.notified(n.UserID, roomID, pos)
	}
	if int64(pos)%pruneEvery == 0 {
		for _, d := range pushes {
			if err := prune(ctx, tx, d.user, maxKept); err != nil {
				return nil, err
			}
		}
	}
	if p.opts.Gateway == nil || p.opts.Pushers == nil {
		pushes = nil
	}
	afterCommit = append(afterCommit, keeps...)
	for _, d := range pushes {
		afterCommit = append(afterCommit, func() { p.enqueue(d) })
	}
	return runAll(afterCommit), nil
}

// runAll is one function calling fns in order; nil when there are none.
func runAll(fns []func()) func() {
	if len(fns) == 0 {
		return nil
	}
	return func() {
		for _, fn := range fns {
			fn()
		}
	}
}

// notifiedUser is one user an event notifies, as storeNotifications takes it
// (a JSON array element).
type notifiedUser struct {
	UserID    string `json:"u"`
	Highlight bool   `json:"h"`
	Actions   string `json:"a"` // the matching rule's actions, JSON
}

// storeNotifications stores the notifications of one event, for every user
// it notifies, in one statement whatever their number: one row per user
// from a JSON array, instead of one INSERT each (in wasm each statement is a
// crossing of the storage bridge; with 8 users in a room the 7 inserts were
// 9 % of the server's CPU natively). Actions are stored as a BLOB, as before.
func storeNotifications(ctx context.Context, tx *sql.Tx, roomID, eventID string, pos room.StreamPos, threadID string, ts int64, users []notifiedUser) error {
	if len(users) == 0 {
		return nil
	}
	rows, err := json.Marshal(users)
	if err != nil {
		return fmt.Errorf("encode notifications of %s: %w", eventID, err)
	}
	if _, err := tx.ExecContext(ctx,
		`INSERT OR REPLACE INTO notifications (user_id, stream_pos, room_id, event_id, thread_id, highlight, actions, ts)
		 SELECT json_extract(n.value, '$.u'), ?, ?, ?, ?, json_extract(n.value, '$.h'), CAST(json_extract(n.value, '$.a') AS BLOB), ?
		 FROM json_each(?) n`,
		int64(pos), roomID, eventID, threadID, ts, string(rows)); err != nil {
		return fmt.Errorf("store notifications of %s: %w", eventID, err)
	}
	return nil
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

// decodeContent decodes an event's content as conditions read it.
func decodeContent(ev gomatrixserverlib.PDU) (any, error) {
	var content any
	if err := json.Unmarshal(ev.Content(), &content); err != nil {
		return nil, fmt.Errorf("decode content of %s: %w", ev.EventID(), err)
	}
	return content, nil
}

// clientEvent is the event as rules see it, decoded: the client format's
// keys (type, content, sender, state_key, room_id, event_id,
// origin_server_ts), with JSON's types (numbers are float64).
func clientEvent(ev gomatrixserverlib.PDU, content any) map[string]any {
	out := map[string]any{
		"type": ev.Type(), "content": content, "sender": string(ev.SenderID()),
		"room_id": ev.RoomID().String(), "event_id": ev.EventID(), "origin_server_ts": float64(ev.OriginServerTS()),
	}
	if ev.StateKey() != nil {
		out["state_key"] = *ev.StateKey()
	}
	return out
}

// threadOf returns the root of the thread an event is in ("" for the main
// timeline): the event a m.thread relation points at.
func threadOf(content any) string {
	c, _ := content.(map[string]any)
	rel, _ := c["m.relates_to"].(map[string]any)
	if id, ok := rel["event_id"].(string); ok && rel["rel_type"] == "m.thread" {
		return id
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

// Redacted is room.RedactedHook: a redacted event notifies no one any more
// (it leaves /notifications and the unread counts), as in Synapse.
func (p *Push) Redacted(ctx context.Context, tx *sql.Tx, eventID string) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM notifications WHERE event_id = ?`, eventID); err != nil {
		return fmt.Errorf("forget the notifications of redacted %s: %w", eventID, err)
	}
	return nil
}
