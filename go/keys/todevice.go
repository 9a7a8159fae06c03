package keys

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

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

// ToDevice acknowledges (deletes) a device's messages at or before acked —
// the data position of the since token the client synced with, so it has
// received them — and returns the next ones up to upTo. When more wait than
// one sync carries, last is the position of the last one returned (the sync
// token must not pass it); otherwise last is upTo.
func (k *Keys) ToDevice(ctx context.Context, user spec.UserID, deviceID string, acked, upTo int64) ([]ToDeviceEvent, int64, error) {
	// One statement, as every /sync asks: the next messages, and a row at
	// position 0 when some are acknowledged (deleted once the rows are read).
	rows, err := k.db.Query(ctx,
		`SELECT 0, NULL WHERE ? > 0 AND EXISTS (SELECT 1 FROM to_device WHERE user_id = ? AND device_id = ? AND stream_pos <= ?)
		 UNION ALL
		 SELECT * FROM (SELECT stream_pos, json FROM to_device WHERE user_id = ? AND device_id = ? AND stream_pos > ? AND stream_pos <= ?
		                ORDER BY stream_pos LIMIT ?)`,
		acked, user.String(), deviceID, acked, user.String(), deviceID, acked, upTo, maxToDevicePerSync+1)
	if err != nil {
		return nil, 0, fmt.Errorf("load to-device messages: %w", err)
	}
	out := []ToDeviceEvent{}
	last := upTo
	acknowledged := false
	for rows.Next() {
		var pos int64
		var raw []byte
		if err := rows.Scan(&pos, &raw); err != nil {
			rows.Close()
			return nil, 0, fmt.Errorf("load to-device messages: %w", err)
		}
		if pos == 0 {
			acknowledged = true
			continue
		}
		if len(out) == maxToDevicePerSync {
			continue // one more waits: the token stops at the last one carried
		}
		var ev ToDeviceEvent
		if err := json.Unmarshal(raw, &ev); err != nil {
			rows.Close()
			return nil, 0, fmt.Errorf("decode to-device message: %w", err)
		}
		out = append(out, ev)
		last = pos
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("load to-device messages: %w", err)
	}
	if len(out) < maxToDevicePerSync {
		last = upTo
	}
	if acknowledged {
		err := k.db.Write(ctx, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `DELETE FROM to_device WHERE user_id = ? AND device_id = ? AND stream_pos <= ?`,
				user.String(), deviceID, acked)
			return err
		})
		if err != nil {
			return nil, 0, fmt.Errorf("delete acknowledged to-device messages: %w", err)
		}
	}
	return out, last, nil
}
