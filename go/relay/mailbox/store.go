package mailbox

import (
	"database/sql"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// The store is the JavaScript relay's (js/relay/mailbox/store.js): the same
// tables (schema.sql, which both read), file name and user_version, so a
// directory written by one relay opens in the other.
//
// Durability: WAL with synchronous=FULL, so a COMMIT returns once the WAL is
// fsync'd, and deposits are answered only after their COMMIT.
// locking_mode=EXCLUSIVE: one relay per directory.
const (
	storeFile     = "mailbox.sqlite"
	schemaVersion = 1
	// sweepBatch bounds the expired mails turned into notices per sweep: a
	// huge backlog is worked off over several sweeps.
	sweepBatch = 10_000
)

//go:embed schema.sql
var schema string

// storeLimits are the Options the store enforces; times in ms.
type storeLimits struct {
	ttl                  int64 // mail is kept this long unread; notices twice as long, peers as long
	maxMailsPerRecipient int64
	maxBytesPerRecipient int64
	maxStoreBytes        int64
	maxNoticesPerSender  int64
}

// store is the mailbox database.
//
// Writes: the JavaScript relay batches the writes of one event-loop turn
// into one transaction (group commit), because better-sqlite3 blocks its
// only thread for each fsync. Here a write blocks only the goroutine that
// asked for it, so writes simply take turns: one transaction each, run under
// mu, answered after its COMMIT. A refused deposit rolls back alone for the
// same reason it does there: it is its own transaction. The price is one
// fsync per write, which the per-sender deposit rate keeps well within reach.
type store struct {
	db     *sql.DB
	limits storeLimits
	mu     sync.Mutex // one write at a time
}

// openStore opens (creating if needed) the store in dir.
func openStore(dir string, limits storeLimits) (*store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("cannot open the mailbox store in %s: %w", dir, err)
	}
	path := filepath.Join(dir, storeFile)
	if strings.ContainsRune(path, '?') {
		return nil, fmt.Errorf("cannot open the mailbox store in %s: the path may not hold a '?'", dir)
	}
	// Applied in this order on connecting: busy_timeout(0), because nothing
	// but another relay ever holds the lock, so say so at once instead of
	// waiting; then exclusive locking before WAL (so WAL keeps its index in
	// memory and the lock is this process's alone), then a full fsync per COMMIT.
	dsn := path + "?_pragma=busy_timeout(0)&_pragma=locking_mode(EXCLUSIVE)&_journal_mode=WAL&_synchronous=FULL"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("cannot open the mailbox store in %s: %w", dir, err)
	}
	// One connection, kept for good: the exclusive lock belongs to it.
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	if err := migrate(db); err != nil {
		db.Close()
		if isBusy(err) {
			return nil, fmt.Errorf("the mailbox store in %s is in use by another relay: %w", dir, err)
		}
		return nil, fmt.Errorf("cannot open the mailbox store in %s: %w", dir, err)
	}
	return &store{db: db, limits: limits}, nil
}

func isBusy(err error) bool {
	var e *sqlite.Error
	return errors.As(err, &e) && e.Code()&0xff == sqlite3.SQLITE_BUSY
}

func migrate(db *sql.DB) error {
	var version int
	if err := db.QueryRow("PRAGMA user_version").Scan(&version); err != nil {
		return fmt.Errorf("reading the schema version: %w", err)
	}
	if version == schemaVersion {
		return nil
	}
	if version != 0 {
		return fmt.Errorf("schema version %d is newer than this relay's (%d)", version, schemaVersion)
	}
	tx, err := db.Begin()
	if err != nil {
		return fmt.Errorf("creating the schema: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.Exec(schema); err != nil {
		return fmt.Errorf("creating the schema: %w", err)
	}
	if _, err := tx.Exec(fmt.Sprintf("PRAGMA user_version = %d", schemaVersion)); err != nil {
		return fmt.Errorf("setting the schema version: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("creating the schema: %w", err)
	}
	return nil
}

// write runs job in a transaction of its own and returns once it is
// committed (or rolled back, when job fails). job must use tx only: the
// pool's one connection is tx's until then.
func (st *store) write(job func(tx *sql.Tx) error) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	tx, err := st.db.Begin()
	if err != nil {
		return fmt.Errorf("mailbox store: begin: %w", err)
	}
	if err := job(tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		// as the JavaScript relay: the commit itself failed (disk full, I/O), nothing was stored
		return refuse(errStore, "the mailbox store could not commit: %v", err)
	}
	return nil
}

type mail struct {
	sender, recipient, ref string
	sealed                 []byte
}

type deposited struct {
	mid, expiresAt int64
	duplicate      bool
}

// deposit stores one mail, or finds the same (sender, recipient, ref)
// stored before. Over the recipient's quota or the store's cap it is a
// MailboxFullError and nothing is stored.
func (st *store) deposit(m mail, now int64) (deposited, error) {
	var d deposited
	err := st.write(func(tx *sql.Tx) error {
		err := tx.QueryRow("SELECT mid, expires_at FROM mail WHERE sender = ? AND recipient = ? AND ref = ?",
			m.sender, m.recipient, m.ref).Scan(&d.mid, &d.expiresAt)
		if err == nil {
			d.duplicate = true
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("mailbox store: finding a repeated deposit: %w", err)
		}
		size := int64(len(m.sealed))
		var count, bytes int64
		err = tx.QueryRow("SELECT count, bytes FROM boxes WHERE recipient = ?", m.recipient).Scan(&count, &bytes)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("mailbox store: reading a mailbox's size: %w", err)
		}
		if count+1 > st.limits.maxMailsPerRecipient {
			return refuse(errFull, "the mailbox of %s holds %d mails, its limit", m.recipient, count)
		}
		if bytes+size > st.limits.maxBytesPerRecipient {
			return refuse(errFull, "the mailbox of %s holds %d bytes; %d more would pass its limit of %d",
				m.recipient, bytes, size, st.limits.maxBytesPerRecipient)
		}
		var total int64
		if err := tx.QueryRow("SELECT bytes FROM totals").Scan(&total); err != nil {
			return fmt.Errorf("mailbox store: reading the store's size: %w", err)
		}
		if total+size > st.limits.maxStoreBytes {
			return refuse(errFull, "the relay's mail store is full")
		}
		sealed := m.sealed
		if sealed == nil {
			sealed = []byte{} // an empty blob; nil would be NULL
		}
		d.expiresAt = now + st.limits.ttl
		res, err := tx.Exec(`INSERT INTO mail (recipient, sender, ref, sealed, size, deposited_at, expires_at)
		                     VALUES (?, ?, ?, ?, ?, ?, ?)`, m.recipient, m.sender, m.ref, sealed, size, now, d.expiresAt)
		if err != nil {
			return fmt.Errorf("mailbox store: storing a mail: %w", err)
		}
		if d.mid, err = res.LastInsertId(); err != nil {
			return fmt.Errorf("mailbox store: storing a mail: %w", err)
		}
		return nil
	})
	return d, err
}

// ack deletes the recipient's mails among mids (the others are ignored:
// acked before, expired, or not theirs); each becomes a 'delivered' notice
// for its sender. It returns the senders with new notices.
func (st *store) ack(recipient string, mids []int64, now int64) ([]string, error) {
	var told []string
	err := st.write(func(tx *sql.Tx) error {
		told = nil
		seen := map[string]bool{}
		for _, mid := range mids {
			var sender, ref string
			err := tx.QueryRow("SELECT sender, ref FROM mail WHERE mid = ? AND recipient = ?", mid, recipient).Scan(&sender, &ref)
			if errors.Is(err, sql.ErrNoRows) {
				continue
			}
			if err != nil {
				return fmt.Errorf("mailbox store: finding an acked mail: %w", err)
			}
			if _, err := tx.Exec("DELETE FROM mail WHERE mid = ?", mid); err != nil {
				return fmt.Errorf("mailbox store: deleting an acked mail: %w", err)
			}
			if err := st.notify(tx, sender, "delivered", recipient, ref, now); err != nil {
				return err
			}
			if !seen[sender] {
				seen[sender] = true
				told = append(told, sender)
			}
		}
		return st.trimNotices(tx, told)
	})
	return told, err
}

// ackNotices deletes the sender's notices among nids (the others are ignored).
func (st *store) ackNotices(sender string, nids []int64) error {
	return st.write(func(tx *sql.Tx) error {
		for _, nid := range nids {
			if _, err := tx.Exec("DELETE FROM notices WHERE nid = ? AND sender = ?", nid, sender); err != nil {
				return fmt.Errorf("mailbox store: deleting a notice: %w", err)
			}
		}
		return nil
	})
}

// sweep drops mail past its TTL (each becomes an 'expired' notice for its
// sender), notices past twice the TTL and peers unseen for a TTL, and marks
// the peers present now as seen. It returns how many mails expired and the
// senders with new notices.
func (st *store) sweep(now int64, present []string) (expired int, told []string, err error) {
	err = st.write(func(tx *sql.Tx) error {
		expired, told = 0, nil
		type gone struct {
			mid                    int64
			sender, recipient, ref string
		}
		var mails []gone
		rows, err := tx.Query("SELECT mid, sender, recipient, ref FROM mail WHERE expires_at <= ? LIMIT ?", now, sweepBatch)
		if err != nil {
			return fmt.Errorf("mailbox store: finding expired mail: %w", err)
		}
		for rows.Next() {
			var g gone
			if err := rows.Scan(&g.mid, &g.sender, &g.recipient, &g.ref); err != nil {
				rows.Close()
				return fmt.Errorf("mailbox store: finding expired mail: %w", err)
			}
			mails = append(mails, g)
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return fmt.Errorf("mailbox store: finding expired mail: %w", err)
		}
		seen := map[string]bool{}
		for _, g := range mails {
			if _, err := tx.Exec("DELETE FROM mail WHERE mid = ?", g.mid); err != nil {
				return fmt.Errorf("mailbox store: deleting expired mail: %w", err)
			}
			if err := st.notify(tx, g.sender, "expired", g.recipient, g.ref, now); err != nil {
				return err
			}
			if !seen[g.sender] {
				seen[g.sender] = true
				told = append(told, g.sender)
			}
		}
		if err := st.trimNotices(tx, told); err != nil {
			return err
		}
		if _, err := tx.Exec("DELETE FROM notices WHERE expires_at <= ?", now); err != nil {
			return fmt.Errorf("mailbox store: dropping old notices: %w", err)
		}
		for _, p := range present {
			if err := sawPeer(tx, p, now); err != nil {
				return err
			}
		}
		if _, err := tx.Exec("DELETE FROM peers WHERE last_seen < ?", now-st.limits.ttl); err != nil {
			return fmt.Errorf("mailbox store: forgetting peers: %w", err)
		}
		expired = len(mails)
		return nil
	})
	return expired, told, err
}

// sawPeer records that peer holds a mailbox stream here now.
func (st *store) sawPeer(peer string, now int64) error {
	return st.write(func(tx *sql.Tx) error { return sawPeer(tx, peer, now) })
}

func sawPeer(tx *sql.Tx, peer string, now int64) error {
	_, err := tx.Exec(`INSERT INTO peers (peer, last_seen) VALUES (?, ?)
	                   ON CONFLICT (peer) DO UPDATE SET last_seen = max(last_seen, excluded.last_seen)`, peer, now)
	if err != nil {
		return fmt.Errorf("mailbox store: recording a peer: %w", err)
	}
	return nil
}

// knowsPeer says whether peer held a mailbox stream here within the TTL.
func (st *store) knowsPeer(peer string, now int64) (bool, error) {
	var one int
	err := st.db.QueryRow("SELECT 1 FROM peers WHERE peer = ? AND last_seen >= ?", peer, now-st.limits.ttl).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("mailbox store: looking up a peer: %w", err)
	}
	return true, nil
}

type mailRow struct {
	mid         int64
	sender, ref string
	sealed      []byte
	depositedAt int64
}

// mailFor is unexpired mail for recipient after afterMid, oldest first.
func (st *store) mailFor(recipient string, afterMid int64, limit int, now int64) ([]mailRow, error) {
	rows, err := st.db.Query(`SELECT mid, sender, ref, sealed, deposited_at FROM mail
	                          WHERE recipient = ? AND mid > ? AND expires_at > ? ORDER BY mid LIMIT ?`,
		recipient, afterMid, now, limit)
	if err != nil {
		return nil, fmt.Errorf("mailbox store: reading mail: %w", err)
	}
	defer rows.Close()
	var out []mailRow
	for rows.Next() {
		var r mailRow
		if err := rows.Scan(&r.mid, &r.sender, &r.ref, &r.sealed, &r.depositedAt); err != nil {
			return nil, fmt.Errorf("mailbox store: reading mail: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("mailbox store: reading mail: %w", err)
	}
	return out, nil
}

type noticeRow struct {
	nid            int64
	kind           string
	recipient, ref string
	at             int64
}

// noticesFor is the notices for sender after afterNid, oldest first.
func (st *store) noticesFor(sender string, afterNid int64, limit int) ([]noticeRow, error) {
	rows, err := st.db.Query(`SELECT nid, kind, recipient, ref, at FROM notices
	                          WHERE sender = ? AND nid > ? ORDER BY nid LIMIT ?`, sender, afterNid, limit)
	if err != nil {
		return nil, fmt.Errorf("mailbox store: reading notices: %w", err)
	}
	defer rows.Close()
	var out []noticeRow
	for rows.Next() {
		var r noticeRow
		if err := rows.Scan(&r.nid, &r.kind, &r.recipient, &r.ref, &r.at); err != nil {
			return nil, fmt.Errorf("mailbox store: reading notices: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("mailbox store: reading notices: %w", err)
	}
	return out, nil
}

// stats is what the store holds (Present is left to the caller).
func (st *store) stats() (Stats, error) {
	var s Stats
	if err := st.db.QueryRow("SELECT count, bytes FROM totals").Scan(&s.Mails, &s.Bytes); err != nil {
		return Stats{}, fmt.Errorf("mailbox store: reading totals: %w", err)
	}
	if err := st.db.QueryRow("SELECT count(*) FROM notices").Scan(&s.Notices); err != nil {
		return Stats{}, fmt.Errorf("mailbox store: counting notices: %w", err)
	}
	return s, nil
}

// close waits for a write under way, then closes the database (and its lock).
func (st *store) close() error {
	st.mu.Lock()
	defer st.mu.Unlock()
	if err := st.db.Close(); err != nil {
		return fmt.Errorf("mailbox store: closing: %w", err)
	}
	return nil
}

func (st *store) notify(tx *sql.Tx, sender, kind, recipient, ref string, now int64) error {
	_, err := tx.Exec(`INSERT INTO notices (sender, kind, recipient, ref, at, expires_at) VALUES (?, ?, ?, ?, ?, ?)`,
		sender, kind, recipient, ref, now, now+2*st.limits.ttl)
	if err != nil {
		return fmt.Errorf("mailbox store: storing a notice: %w", err)
	}
	return nil
}

// trimNotices keeps each sender's newest maxNoticesPerSender notices.
func (st *store) trimNotices(tx *sql.Tx, senders []string) error {
	for _, sender := range senders {
		_, err := tx.Exec(`DELETE FROM notices WHERE sender = ? AND nid <=
		                     (SELECT nid FROM notices WHERE sender = ? ORDER BY nid DESC LIMIT 1 OFFSET ?)`,
			sender, sender, st.limits.maxNoticesPerSender)
		if err != nil {
			return fmt.Errorf("mailbox store: trimming notices: %w", err)
		}
	}
	return nil
}
