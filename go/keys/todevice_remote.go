package keys

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/matrix-org/gomatrixserverlib/spec"
)

// MaxPendingToDeviceBytes bounds the to-device messages one other server may
// have waiting here for collection. One transaction from a server sharing no
// room stored 10 MB before (issue 11); olm messages are a few KiB, so this
// leaves room for hundreds of key shares per server.
const MaxPendingToDeviceBytes = 4 << 20

// receivedIDRetention is how long a received to-device EDU's message_id is
// remembered: longer than a sender plausibly retries one transaction.
const receivedIDRetention = 24 * time.Hour

// ReceiveRemoteToDevice stores the messages of an m.direct_to_device EDU
// from origin. Semantics: at most once per (origin, messageID) — a retried
// or concurrent transaction carrying the same EDU delivers nothing again
// (an EDU without a message_id cannot be told apart and is stored each time);
// messages for users or devices that do not exist are dropped; and past
// MaxPendingToDeviceBytes waiting from origin, the rest are dropped, logged.
func (k *Keys) ReceiveRemoteToDevice(ctx context.Context, origin spec.ServerName, messageID, sender, evType string, messages map[string]map[string]json.RawMessage) error {
	deliveries, err := k.deliveries(ctx, sender, evType, messages)
	if err != nil || len(deliveries) == 0 {
		return err
	}
	dropped := 0
	err = k.writeToDevice(ctx, func(tx *sql.Tx) ([]delivery, error) {
		first, err := k.firstReceipt(ctx, tx, origin, messageID)
		if err != nil || !first {
			return nil, err
		}
		var pending int64
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(SUM(length(json)), 0) FROM to_device WHERE origin = ?`, string(origin)).Scan(&pending); err != nil {
			return nil, fmt.Errorf("measure pending to-device messages from %s: %w", origin, err)
		}
		for i, d := range deliveries {
			if pending+int64(len(d.raw)) > MaxPendingToDeviceBytes {
				dropped = len(deliveries) - i
				return deliveries[:i], nil
			}
			pending += int64(len(d.raw))
		}
		return deliveries, nil
	}, origin)
	if dropped > 0 {
		log.WithField("origin", origin).Warnf("dropped %d to-device messages: over %d bytes waiting from that server", dropped, MaxPendingToDeviceBytes)
	}
	return err
}

// firstReceipt records messageID from origin and reports whether it is new;
// it also forgets IDs past their retention.
func (k *Keys) firstReceipt(ctx context.Context, tx *sql.Tx, origin spec.ServerName, messageID string) (bool, error) {
	if messageID == "" {
		return true, nil
	}
	now := k.now()
	if _, err := tx.ExecContext(ctx, `DELETE FROM to_device_received WHERE received_ts < ?`, now.Add(-receivedIDRetention).UnixMilli()); err != nil {
		return false, fmt.Errorf("forget old to-device message IDs: %w", err)
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO to_device_received (origin, message_id, received_ts) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`,
		string(origin), messageID, now.UnixMilli())
	if err != nil {
		return false, fmt.Errorf("record to-device message ID: %w", err)
	}
	n, err := res.RowsAffected()
	return n > 0, err
}
