package federation

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"

	"hearth/go/mailbox"
	"hearth/go/storage"
)

// Queue sends PDUs and EDUs to other servers as transactions: one worker per
// destination, in the order queued, persisted in federation_queue so nothing
// queued is lost to a restart. A failed transaction is retried after a
// back-off that doubles up to Backoff.Max; Kick retries at once (a peer came
// back). A row leaves the queue only once its transaction was answered, or
// its recipient's mailbox said it was delivered.
//
// When the destination cannot be reached at all and a Depositor is set, the
// same signed transaction goes sealed to the destination's mailbox instead
// (deposit.go): its rows stay, marked with the deposit, and are not sent again
// until the mailbox reports it expired (or its expiry time passes). A refused
// deposit (full, rate limited, no mailbox) is a failed transaction like any.
//
// A destination that stays away does not grow the queue without bound: past
// MaxPDUs, the oldest PDUs are dropped, since the receiver fetches the events
// it lacks (get_missing_events) when the newest arrive; past maxQueuedEDUs,
// the oldest EDUs are.
type Queue struct {
	db     *storage.DB
	client *Client
	// opts has Backoff, MaxPDUs, Now and Random set: NewQueue fills the zero
	// ones; Depositor may be nil.
	opts QueueOptions

	ctx    context.Context // workers stop when it ends
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	workers map[spec.ServerName]*worker // guarded by mu
}

// Backoff bounds the wait between failed transactions to one destination.
type Backoff struct {
	Initial, Max time.Duration
}

// QueueOptions configure a Queue; zero values mean production defaults.
type QueueOptions struct {
	Backoff Backoff // zero: 2 s doubling up to 5 min
	MaxPDUs int     // per destination; 0: 1000
	// Depositor takes, sealed, the transactions of destinations that cannot
	// be reached (their mailboxes on relays); nil: those wait in the queue.
	Depositor mailbox.Depositor
	Now       func() time.Time // nil: time.Now; judges mailbox expiry
	Random    io.Reader        // nil: crypto/rand; seals envelopes
}

// worker is one destination's sender.
type worker struct {
	wake chan struct{} // something new was queued
	kick chan struct{} // retry now, forgetting the back-off
}

// NewQueue returns a stopped queue; Start runs it.
func NewQueue(db *storage.DB, client *Client, opts QueueOptions) *Queue {
	if opts.Backoff.Initial <= 0 {
		opts.Backoff.Initial = 2 * time.Second
	}
	if opts.Backoff.Max < opts.Backoff.Initial {
		opts.Backoff.Max = max(5*time.Minute, opts.Backoff.Initial)
	}
	if opts.MaxPDUs <= 0 {
		opts.MaxPDUs = 1000
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Random == nil {
		opts.Random = rand.Reader
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Queue{db: db, client: client, opts: opts,
		ctx: ctx, cancel: cancel, workers: map[spec.ServerName]*worker{}}
}

// Start starts a worker for every destination with something queued.
func (q *Queue) Start(ctx context.Context) error {
	rows, err := q.db.Query(ctx, `SELECT DISTINCT destination FROM federation_queue`)
	if err != nil {
		return fmt.Errorf("load queued destinations: %w", err)
	}
	var dests []spec.ServerName
	for rows.Next() {
		var d string
		if err := rows.Scan(&d); err != nil {
			rows.Close()
			return fmt.Errorf("load queued destinations: %w", err)
		}
		dests = append(dests, spec.ServerName(d))
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("load queued destinations: %w", err)
	}
	for _, d := range dests {
		q.signal(d, false)
	}
	return nil
}

// Close stops the workers and waits for them. It cancels under q.mu, which
// signal holds while it checks and counts a new worker, so no worker is
// started once Close waits (Start may run beside it, with the upkeep).
func (q *Queue) Close() {
	q.mu.Lock()
	q.cancel()
	q.mu.Unlock()
	q.wg.Wait()
}

// Outbox queues a PDU for destinations inside the caller's transaction (it
// is a room.Outbox): queued exactly when the event is stored.
func (q *Queue) Outbox(ctx context.Context, tx *sql.Tx, ev gomatrixserverlib.PDU, destinations []spec.ServerName) (func(), error) {
	for _, d := range destinations {
		if err := q.insert(ctx, tx, d, "pdu", ev.EventID(), ev.JSON()); err != nil {
			return nil, err
		}
	}
	return func() {
		for _, d := range destinations {
			q.signal(d, false)
		}
	}, nil
}

// SendEDU queues an EDU (typing, receipt, …) for a destination.
func (q *Queue) SendEDU(ctx context.Context, destination spec.ServerName, edu gomatrixserverlib.EDU) error {
	raw, err := json.Marshal(edu)
	if err != nil {
		return fmt.Errorf("encode EDU: %w", err)
	}
	err = q.db.Write(ctx, func(tx *sql.Tx) error { return q.insert(ctx, tx, destination, "edu", "", raw) })
	if err != nil {
		return err
	}
	q.signal(destination, false)
	return nil
}

// insert queues one row; eventID is the PDU's, "" for an EDU.
func (q *Queue) insert(ctx context.Context, tx *sql.Tx, dest spec.ServerName, kind, eventID string, raw []byte) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO federation_queue (destination, kind, event_id, json) VALUES (?, ?, ?, ?)`,
		string(dest), kind, sql.NullString{String: eventID, Valid: eventID != ""}, raw); err != nil {
		return fmt.Errorf("queue %s for %s: %w", kind, dest, err)
	}
	// Past the limit of its kind, the oldest rows go: PDUs are fetched again
	// by the receiver (get_missing_events), and EDUs (typing, receipts) are
	// worth little once old.
	limit := q.opts.MaxPDUs
	if kind == "edu" {
		limit = maxQueuedEDUs
	}
	if _, err := tx.ExecContext(ctx,
		`DELETE FROM federation_queue WHERE destination = ? AND kind = ? AND id <= (
			SELECT id FROM federation_queue WHERE destination = ? AND kind = ? ORDER BY id DESC LIMIT 1 OFFSET ?)`,
		string(dest), kind, string(dest), kind, limit); err != nil {
		return fmt.Errorf("trim queue for %s: %w", dest, err)
	}
	return nil
}

// maxQueuedEDUs bounds the EDUs waiting for one destination.
const maxQueuedEDUs = 100

// Kick retries a destination at once: call it when the peer reappears.
func (q *Queue) Kick(dest spec.ServerName) { q.signal(dest, true) }

// signal wakes (or kicks) a destination's worker, starting it if needed.
func (q *Queue) signal(dest spec.ServerName, kick bool) {
	q.mu.Lock()
	w, ok := q.workers[dest]
	if !ok {
		if q.ctx.Err() != nil {
			q.mu.Unlock()
			return
		}
		w = &worker{wake: make(chan struct{}, 1), kick: make(chan struct{}, 1)}
		q.workers[dest] = w
		q.wg.Add(1)
		go q.run(dest, w)
	}
	q.mu.Unlock()
	ch := w.wake
	if kick {
		ch = w.kick
	}
	select {
	case ch <- struct{}{}:
	default: // already signalled
	}
}

// run is one destination's worker: send what is queued, in order, and wait.
func (q *Queue) run(dest spec.ServerName, w *worker) {
	defer q.wg.Done()
	var delay time.Duration
	for {
		sent, err := q.sendBatch(dest)
		if err != nil {
			delay = min(max(2*delay, q.opts.Backoff.Initial), q.opts.Backoff.Max)
			log.WithError(err).WithField("destination", dest).WithField("retry_in", delay).Debug("transaction failed")
			timer := time.NewTimer(delay)
			select {
			case <-q.ctx.Done():
				timer.Stop()
				return
			case <-w.kick:
				timer.Stop()
				delay = 0
			case <-timer.C:
			}
			continue
		}
		delay = 0
		if sent {
			continue // there may be more
		}
		// Idle; deposited rows come back when their mailbox's time is up.
		expiry := q.untilMailboxExpiry(dest)
		select {
		case <-q.ctx.Done():
			expiry.Stop()
			return
		case <-w.wake:
		case <-w.kick:
		case <-expiry.C:
		}
		expiry.Stop()
	}
}

// batch is the rows of one transaction.
type batch struct {
	ids []int64
	txn transaction
}

// maxBatchBytes bounds the PDUs and EDUs of one transaction, so that one
// fits a mailbox deposit (the relay takes up to 2 MiB); a single larger row
// (an event is at most 64 KiB) still goes alone.
const maxBatchBytes = 1 << 20

// nextBatch loads the oldest rows for dest that no mailbox holds: never
// deposited, or deposited in one whose time is up (its notice may never come).
func (q *Queue) nextBatch(ctx context.Context, dest spec.ServerName) (batch, error) {
	rows, err := q.db.Query(ctx,
		`SELECT id, kind, json FROM federation_queue
		 WHERE destination = ? AND (mailbox_ref IS NULL OR mailbox_expires_ts <= ?) ORDER BY id LIMIT ?`,
		string(dest), q.opts.Now().UnixMilli(), maxTxnPDUs+maxTxnEDUs)
	if err != nil {
		return batch{}, fmt.Errorf("load queue for %s: %w", dest, err)
	}
	defer rows.Close()
	b := batch{txn: transaction{Origin: q.client.id.ServerName, PDUs: []json.RawMessage{}}}
	size := 0
	for rows.Next() {
		var id int64
		var kind string
		var raw []byte
		if err := rows.Scan(&id, &kind, &raw); err != nil {
			return batch{}, fmt.Errorf("load queue for %s: %w", dest, err)
		}
		full := kind == "pdu" && len(b.txn.PDUs) == maxTxnPDUs || kind == "edu" && len(b.txn.EDUs) == maxTxnEDUs
		if full || len(b.ids) > 0 && size+len(raw) > maxBatchBytes {
			break // the rest waits for the next transaction, keeping the order
		}
		b.ids = append(b.ids, id)
		size += len(raw)
		if kind == "pdu" {
			b.txn.PDUs = append(b.txn.PDUs, raw)
		} else {
			var edu gomatrixserverlib.EDU
			if json.Unmarshal(raw, &edu) == nil {
				b.txn.EDUs = append(b.txn.EDUs, edu)
			}
		}
	}
	if err := rows.Err(); err != nil {
		return batch{}, fmt.Errorf("load queue for %s: %w", dest, err)
	}
	return b, nil
}

// txnID names the rows a batch carries, so that a retry of the same rows
// (directly or through a mailbox) is the same transaction to the receiver,
// which applies each (origin, txnId) once. Rows in a mailbox are skipped, so
// a batch may have holes: then a digest of its IDs tells it from another
// batch with the same ends.
func (b batch) txnID() string {
	first, last := b.ids[0], b.ids[len(b.ids)-1]
	id := fmt.Sprintf("%d-%d", first, last)
	if last-first+1 == int64(len(b.ids)) {
		return id
	}
	h := sha256.New()
	for _, n := range b.ids {
		binary.Write(h, binary.BigEndian, n)
	}
	return fmt.Sprintf("%s.%x", id, h.Sum(nil)[:6])
}

// sendBatch sends the next batch for dest as one transaction and removes its
// rows once answered; if dest cannot be reached, it deposits the transaction
// in dest's mailbox instead. sent is false when nothing waited to be sent.
func (q *Queue) sendBatch(dest spec.ServerName) (sent bool, err error) {
	ctx := q.ctx
	b, err := q.nextBatch(ctx, dest)
	if err != nil || len(b.ids) == 0 {
		return false, err
	}
	txnID := b.txnID()
	b.txn.OriginServerTS = spec.AsTimestamp(q.opts.Now())
	fr, err := q.client.signedRequest(dest, "PUT", path("/_matrix/federation/v1/send", txnID), nil, b.txn)
	if err != nil {
		return false, err
	}
	_, _, err = q.client.roundTrip(ctx, fr, maxResponseBytes)
	if errors.Is(err, ErrUnreachable) && q.opts.Depositor != nil && ctx.Err() == nil {
		if derr := q.deposit(ctx, dest, txnID, fr, b.ids); derr != nil {
			return false, fmt.Errorf("%w; and %w", err, derr)
		}
		return true, nil
	}
	if err != nil {
		return false, err
	}
	if err := q.remove(ctx, b.ids); err != nil {
		return false, fmt.Errorf("dequeue sent transaction: %w", err)
	}
	return true, nil
}

// remove deletes rows that were delivered.
func (q *Queue) remove(ctx context.Context, ids []int64) error {
	return q.db.Write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM federation_queue WHERE id IN (`+placeholders(len(ids))+`)`, anys(ids)...)
		return err
	})
}

// Pending returns how many PDUs and EDUs wait for a destination.
func (q *Queue) Pending(ctx context.Context, dest spec.ServerName) (int, error) {
	var n int
	if err := q.db.QueryRow(ctx, `SELECT COUNT(*) FROM federation_queue WHERE destination = ?`, string(dest)).Scan(&n); err != nil {
		return 0, fmt.Errorf("count queue for %s: %w", dest, err)
	}
	return n, nil
}
