package federation

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/matrix-org/gomatrixserverlib/fclient"
	"github.com/matrix-org/gomatrixserverlib/spec"

	"hearth/go/mailbox"
)

// The queue's mailbox side: a transaction that cannot reach its destination
// is deposited, sealed, in the destination's mailbox; its rows stay, marked
// with the deposit's ref (the transaction ID) and expiry, until the mailbox
// says what became of it (MailNotice).

// deposit seals the signed transaction fr and hands it to dest's mailbox,
// then marks rows ids as held there.
func (q *Queue) deposit(ctx context.Context, dest spec.ServerName, ref string, fr *fclient.FederationRequest, ids []int64) error {
	req, err := fr.HTTPRequest()
	if err != nil {
		return fmt.Errorf("build transaction %s: %w", ref, err)
	}
	sealed, err := mailbox.Seal(req, dest, q.opts.Random)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, q.client.timeout)
	defer cancel()
	expires, err := q.opts.Depositor.Deposit(ctx, dest, ref, sealed)
	if err != nil {
		return fmt.Errorf("deposit transaction %s for %s: %w", ref, dest, err)
	}
	err = q.db.Write(ctx, func(tx *sql.Tx) error {
		args := append([]any{ref, expires.UnixMilli()}, anys(ids)...)
		_, err := tx.ExecContext(ctx, `UPDATE federation_queue SET mailbox_ref = ?, mailbox_expires_ts = ?
			WHERE id IN (`+placeholders(len(ids))+`)`, args...)
		return err
	})
	if err != nil {
		return fmt.Errorf("mark transaction %s as in the mailbox: %w", ref, err)
	}
	log.WithField("destination", dest).WithField("txn_id", ref).WithField("rows", len(ids)).Debug("deposited in the mailbox")
	return nil
}

// mailDelivered removes the rows of deposit ref: dest took them.
func (q *Queue) mailDelivered(ctx context.Context, dest spec.ServerName, ref string) error {
	return q.db.Write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM federation_queue WHERE destination = ? AND mailbox_ref = ?`, string(dest), ref)
		if err != nil {
			return fmt.Errorf("dequeue delivered deposit %s: %w", ref, err)
		}
		return nil
	})
}

// mailExpired takes back the rows of deposit ref, which the mailbox dropped
// unread, and has them sent again.
func (q *Queue) mailExpired(ctx context.Context, dest spec.ServerName, ref string) error {
	err := q.db.Write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE federation_queue SET mailbox_ref = NULL, mailbox_expires_ts = NULL
			WHERE destination = ? AND mailbox_ref = ?`, string(dest), ref)
		if err != nil {
			return fmt.Errorf("requeue expired deposit %s: %w", ref, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	q.signal(dest, false)
	return nil
}

// untilMailboxExpiry returns a timer that fires when the first of dest's
// deposits expires; it never fires when none waits (or the time is unknown).
func (q *Queue) untilMailboxExpiry(dest spec.ServerName) *time.Timer {
	var next sql.NullInt64
	err := q.db.QueryRow(q.ctx, `SELECT MIN(mailbox_expires_ts) FROM federation_queue WHERE destination = ? AND mailbox_ref IS NOT NULL`,
		string(dest)).Scan(&next)
	timer := time.NewTimer(time.Duration(1<<63 - 1))
	if err != nil || !next.Valid {
		return timer
	}
	timer.Reset(max(0, time.UnixMilli(next.Int64).Sub(q.opts.Now())))
	return timer
}

func placeholders(n int) string { return "?" + strings.Repeat(",?", n-1) }

func anys[T any](values []T) []any {
	out := make([]any, len(values))
	for i, v := range values {
		out[i] = v
	}
	return out
}
