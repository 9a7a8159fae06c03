package federation

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"

	"hearth/go/storage"
)

// Queue sends PDUs and EDUs to other servers as transactions: one worker per
// destination, in the order queued, persisted in federation_queue so nothing
// queued is lost to a restart. A failed transaction is retried after a
// back-off that doubles up to Backoff.Max; Kick retries at once (a peer came
// back). A row leaves the queue only once its transaction was answered.
//
// A destination that stays away does not grow the queue without bound: past
// MaxPDUs, the oldest PDUs are dropped, since the receiver fetches the events
// it lacks (get_missing_events) when the newest arrive; past maxQueuedEDUs,
// the oldest EDUs are.
type Queue struct {
	db      *storage.DB
	client  *Client
	backoff Backoff
	maxPDUs int

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
	ctx, cancel := context.WithCancel(context.Background())
	return &Queue{db: db, client: client, backoff: opts.Backoff, maxPDUs: opts.MaxPDUs,
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

// Close stops the workers and waits for them.
func (q *Queue) Close() {
	q.cancel()
	q.wg.Wait()
}

// Outbox queues a PDU for destinations inside the caller's transaction (it
// is a room.Outbox): queued exactly when the event is stored.
func (q *Queue) Outbox(ctx context.Context, tx *sql.Tx, ev gomatrixserverlib.PDU, destinations []spec.ServerName) (func(), error) {
	for _, d := range destinations {
		if err := q.insert(ctx, tx, d, "pdu", ev.JSON()); err != nil {
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
	err = q.db.Write(ctx, func(tx *sql.Tx) error { return q.insert(ctx, tx, destination, "edu", raw) })
	if err != nil {
		return err
	}
	q.signal(destination, false)
	return nil
}

func (q *Queue) insert(ctx context.Context, tx *sql.Tx, dest spec.ServerName, kind string, raw []byte) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO federation_queue (destination, kind, json) VALUES (?, ?, ?)`,
		string(dest), kind, raw); err != nil {
		return fmt.Errorf("queue %s for %s: %w", kind, dest, err)
	}
	// Past the limit of its kind, the oldest rows go: PDUs are fetched again
	// by the receiver (get_missing_events), and EDUs (typing, receipts) are
	// worth little once old.
	limit := q.maxPDUs
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
			delay = min(max(2*delay, q.backoff.Initial), q.backoff.Max)
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
		select {
		case <-q.ctx.Done():
			return
		case <-w.wake:
		case <-w.kick:
		}
	}
}

// sendBatch sends the oldest queued rows for dest as one transaction and
// removes them once answered. sent is false when nothing was queued.
func (q *Queue) sendBatch(dest spec.ServerName) (sent bool, err error) {
	ctx := q.ctx
	rows, err := q.db.Query(ctx,
		`SELECT id, kind, json FROM federation_queue WHERE destination = ? ORDER BY id LIMIT ?`,
		string(dest), maxTxnPDUs+maxTxnEDUs)
	if err != nil {
		return false, fmt.Errorf("load queue for %s: %w", dest, err)
	}
	txn := transaction{Origin: q.client.id.ServerName, PDUs: []json.RawMessage{}}
	var first, last int64
	for rows.Next() {
		var id int64
		var kind string
		var raw []byte
		if err := rows.Scan(&id, &kind, &raw); err != nil {
			rows.Close()
			return false, fmt.Errorf("load queue for %s: %w", dest, err)
		}
		if kind == "pdu" && len(txn.PDUs) == maxTxnPDUs || kind == "edu" && len(txn.EDUs) == maxTxnEDUs {
			break // the rest waits for the next transaction, keeping the order
		}
		if first == 0 {
			first = id
		}
		last = id
		if kind == "pdu" {
			txn.PDUs = append(txn.PDUs, raw)
		} else {
			var edu gomatrixserverlib.EDU
			if json.Unmarshal(raw, &edu) == nil {
				txn.EDUs = append(txn.EDUs, edu)
			}
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return false, fmt.Errorf("load queue for %s: %w", dest, err)
	}
	if first == 0 {
		return false, nil
	}
	// The ID names the rows it carries, so a retry of the same rows is the
	// same transaction to the receiver.
	txnID := fmt.Sprintf("%d-%d", first, last)
	txn.OriginServerTS = spec.AsTimestamp(time.Now())
	if err := q.client.do(ctx, dest, "PUT", path("/_matrix/federation/v1/send", txnID), nil, txn, nil); err != nil {
		return false, err
	}
	err = q.db.Write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM federation_queue WHERE destination = ? AND id BETWEEN ? AND ?`, string(dest), first, last)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("dequeue sent transaction: %w", err)
	}
	return true, nil
}

// Pending returns how many PDUs and EDUs wait for a destination.
func (q *Queue) Pending(ctx context.Context, dest spec.ServerName) (int, error) {
	var n int
	if err := q.db.QueryRow(ctx, `SELECT COUNT(*) FROM federation_queue WHERE destination = ?`, string(dest)).Scan(&n); err != nil {
		return 0, fmt.Errorf("count queue for %s: %w", dest, err)
	}
	return n, nil
}
