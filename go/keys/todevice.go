package keys

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"github.com/matrix-org/gomatrixserverlib/spec"

	"hearth/go/storage"
)

// ToDeviceEvent is a to-device message as /sync shows it.
type ToDeviceEvent struct {
	Sender  string          `json:"sender"`
	Type    string          `json:"type"`
	Content json.RawMessage `json:"content"`
}

// SendToDevice delivers messages (user → device, "*" for all → content)
// from a local user's device: local recipients' are stored for their next
// sync, other servers' go to SendRemote (logged and dropped without it).
// A repeated (device, txnID) delivers nothing again.
func (k *Keys) SendToDevice(ctx context.Context, sender spec.UserID, senderDevice, txnID, evType string, messages map[string]map[string]json.RawMessage) error {
	first := true
	err := k.db.Write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO to_device_txns (user_id, device_id, txn_id) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`,
			sender.String(), senderDevice, txnID)
		if err != nil {
			return fmt.Errorf("record to-device transaction: %w", err)
		}
		n, err := res.RowsAffected()
		first = n > 0
		return err
	})
	if err != nil || !first {
		return err
	}
	remote := map[spec.ServerName]map[string]map[string]json.RawMessage{}
	local := map[string]map[string]json.RawMessage{}
	for uid, devices := range messages {
		u, err := spec.NewUserID(uid, true)
		if err != nil {
			continue
		}
		if u.Domain() == k.server {
			local[uid] = devices
			continue
		}
		if remote[u.Domain()] == nil {
			remote[u.Domain()] = map[string]map[string]json.RawMessage{}
		}
		remote[u.Domain()][uid] = devices
	}
	if err := k.ReceiveToDevice(ctx, sender.String(), evType, local); err != nil {
		return err
	}
	var firstErr error
	for server, msgs := range remote {
		var err error
		if k.opts.SendRemote == nil {
			err = fmt.Errorf("send to-device to %s: %w", server, ErrNoFederation)
		} else {
			err = k.opts.SendRemote(ctx, sender, evType, server, msgs)
		}
		if err != nil && firstErr == nil {
			firstErr = err
		}
	}
	if firstErr != nil {
		log.WithError(firstErr).Warn("to-device messages for other servers not sent")
	}
	return nil
}

// ReceiveToDevice stores to-device messages from a local sender for this
// server's users. Messages for users or devices that do not exist are
// dropped: nobody could ever collect them.
func (k *Keys) ReceiveToDevice(ctx context.Context, sender, evType string, messages map[string]map[string]json.RawMessage) error {
	deliveries, err := k.deliveries(ctx, sender, evType, messages)
	if err != nil || len(deliveries) == 0 {
		return err
	}
	return k.writeToDevice(ctx, func(tx *sql.Tx) ([]delivery, error) { return deliveries, nil }, "")
}

// delivery is one to-device message for one existing local device.
type delivery struct {
	uid, deviceID string
	raw           []byte // the ToDeviceEvent as /sync shows it
}

// deliveries resolves messages (user → device, "*" for all → content) to
// this server's existing devices.
func (k *Keys) deliveries(ctx context.Context, sender, evType string, messages map[string]map[string]json.RawMessage) ([]delivery, error) {
	var out []delivery
	for uid, devices := range messages {
		u, err := spec.NewUserID(uid, true)
		if err != nil || u.Domain() != k.server || k.opts.Devices == nil {
			continue
		}
		existing, err := k.opts.Devices(ctx, *u)
		if err != nil {
			return nil, fmt.Errorf("list devices of %s: %w", uid, err)
		}
		for deviceID, content := range devices {
			raw, err := json.Marshal(ToDeviceEvent{Sender: sender, Type: evType, Content: content})
			if err != nil {
				return nil, fmt.Errorf("encode to-device message: %w", err)
			}
			for _, d := range existing {
				if deviceID == "*" || deviceID == d {
					out = append(out, delivery{uid, d, raw})
				}
			}
		}
	}
	return out, nil
}

// writeToDevice stores what choose picks, inside the write that picks it,
// for messages from origin ("" for this server).
func (k *Keys) writeToDevice(ctx context.Context, choose func(tx *sql.Tx) ([]delivery, error), origin spec.ServerName) error {
	var pos int64
	err := k.db.Write(ctx, func(tx *sql.Tx) error {
		deliveries, err := choose(tx)
		if err != nil {
			return err
		}
		for _, d := range deliveries {
			// One position per message: the primary key needs it unique per device.
			if pos, err = storage.NextDataPos(ctx, tx, "to_device"); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO to_device (stream_pos, user_id, device_id, json, origin) VALUES (?, ?, ?, ?, ?)`,
				pos, d.uid, d.deviceID, d.raw, string(origin)); err != nil {
				return fmt.Errorf("store to-device message: %w", err)
			}
		}
		return nil
	})
	if err == nil && pos > 0 {
		k.opts.DataAdvanced(pos)
	}
	return err
}

// maxToDevicePerSync bounds how many to-device messages one sync carries.
const maxToDevicePerSync = 100

// DeviceSync is what a /sync carries for one device from the key store.
type DeviceSync struct {
	ToDevice []ToDeviceEvent
	// DataUpTo is as far as the sync token may go: the upTo asked for, or the
	// position of the last message carried when more wait than one sync carries.
	DataUpTo int64
	// OTKCounts are the unclaimed one-time keys per algorithm.
	OTKCounts map[string]int
	// FallbackKeyTypes are the algorithms of the unused fallback keys, sorted.
	FallbackKeyTypes []string
}

// ForSync acknowledges (deletes) a device's to-device messages at or before
// acked — the data position of the since token the client synced with, so
// it has received them — and returns the next ones up to upTo, and the
// device's key counts. One statement reads it all, as every /sync asks; the
// acknowledged messages are deleted after, if there are any.
//
// With nothing new (acked == upTo), nothing carried by the last read left to
// acknowledge, and the counts unchanged since then, it answers from memory:
// most /syncs, woken by a message, are that.
func (k *Keys) ForSync(ctx context.Context, user spec.UserID, deviceID string, acked, upTo int64) (DeviceSync, error) {
	u := user.String()
	ref := deviceRef{u, deviceID}
	gen := k.countsGen.Load()
	if v, ok := k.counts.Load(ref); ok && acked == upTo {
		if c := v.(countsAt); c.gen == gen && !c.carried {
			return DeviceSync{ToDevice: []ToDeviceEvent{}, DataUpTo: upTo, OTKCounts: maps.Clone(c.otk), FallbackKeyTypes: slices.Clone(c.fallback)}, nil
		}
	}
	rows, err := k.db.Query(ctx,
		`SELECT 'acked', 0, NULL, NULL, 0 WHERE ? > 0 AND EXISTS (SELECT 1 FROM to_device WHERE user_id = ? AND device_id = ? AND stream_pos <= ?)
		 UNION ALL
		 SELECT 'message', * FROM (SELECT stream_pos, json, NULL, 0 FROM to_device
		                           WHERE user_id = ? AND device_id = ? AND stream_pos > ? AND stream_pos <= ? ORDER BY stream_pos LIMIT ?)
		 UNION ALL `+keyCountsSQL,
		acked, u, deviceID, acked, u, deviceID, acked, upTo, maxToDevicePerSync+1, u, deviceID, u, deviceID)
	if err != nil {
		return DeviceSync{}, fmt.Errorf("load to-device messages and key counts: %w", err)
	}
	d := DeviceSync{DataUpTo: upTo}
	acknowledged, err := d.scan(rows)
	if err != nil {
		return DeviceSync{}, fmt.Errorf("load to-device messages and key counts: %w", err)
	}
	k.counts.Store(ref, countsAt{gen: gen, otk: maps.Clone(d.OTKCounts), fallback: slices.Clone(d.FallbackKeyTypes), carried: len(d.ToDevice) > 0})
	if acknowledged {
		err := k.db.Write(ctx, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `DELETE FROM to_device WHERE user_id = ? AND device_id = ? AND stream_pos <= ?`, u, deviceID, acked)
			return err
		})
		if err != nil {
			return DeviceSync{}, fmt.Errorf("delete acknowledged to-device messages: %w", err)
		}
	}
	return d, nil
}

// scan reads rows of (kind, position, JSON, algorithm, count) — ForSync's
// and keyCountsSQL's — into d, and closes them. acknowledged: an 'acked' row
// said some messages are acknowledged. When the messages are more than one
// sync carries, the last is left out and d.DataUpTo stops before it.
func (d *DeviceSync) scan(rows *sql.Rows) (acknowledged bool, err error) {
	defer rows.Close()
	d.ToDevice, d.OTKCounts, d.FallbackKeyTypes = []ToDeviceEvent{}, map[string]int{}, []string{}
	type message struct {
		pos int64
		raw []byte
	}
	var messages []message
	for rows.Next() {
		var kind string
		var pos int64
		var raw []byte
		var alg sql.NullString
		var n int
		if err := rows.Scan(&kind, &pos, &raw, &alg, &n); err != nil {
			return false, err
		}
		switch kind {
		case "acked":
			acknowledged = true
		case "message":
			messages = append(messages, message{pos, raw})
		case "one-time":
			d.OTKCounts[alg.String] = n
		case "fallback":
			d.FallbackKeyTypes = append(d.FallbackKeyTypes, alg.String)
		}
	}
	if err := rows.Err(); err != nil {
		return false, err
	}
	if _, ok := d.OTKCounts["signed_curve25519"]; !ok {
		d.OTKCounts["signed_curve25519"] = 0 // clients expect this count even at 0
	}
	slices.Sort(d.FallbackKeyTypes)
	// A compound SELECT need not keep its parts' order.
	slices.SortFunc(messages, func(a, b message) int { return cmp.Compare(a.pos, b.pos) })
	if len(messages) > maxToDevicePerSync {
		messages = messages[:maxToDevicePerSync] // one more waits: the token stops at the last one carried
		d.DataUpTo = messages[len(messages)-1].pos
	}
	for _, m := range messages {
		var ev ToDeviceEvent
		if err := json.Unmarshal(m.raw, &ev); err != nil {
			return false, fmt.Errorf("decode to-device message: %w", err)
		}
		d.ToDevice = append(d.ToDevice, ev)
	}
	return acknowledged, nil
}
