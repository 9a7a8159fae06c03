/**
 * The relay's mail on disk: one SQLite database (better-sqlite3) in a
 * directory of its own. The relay never reads what it stores: `sealed` is the
 * payload exactly as deposited (sealed to the recipient by its sender's Go).
 *
 * Tables: go/relay/mailbox/schema.sql, shared with the Go relay.
 *
 * Durability: WAL with synchronous=FULL, so a COMMIT returns once the WAL is
 * fsync'd; writes go through writer.js, which answers only after the COMMIT.
 * locking_mode=EXCLUSIVE: one relay process per directory (a second one fails
 * to open it instead of sharing mail it cannot push).
 *
 * Methods whose doc says "in a write" must run inside writer.write(); the
 * others only read.
 */
import Database from 'better-sqlite3'
import { mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { MailboxFullError, MailboxStoreError } from '../../p2p/errors.js'
import { createWriter } from './writer.js'

const SCHEMA_VERSION = 1

const SCHEMA = readFileSync(fileURLToPath(new URL('../../../go/relay/mailbox/schema.sql', import.meta.url)), 'utf8')

/** Expired mails turned into notices per sweep: a huge backlog is worked off over several sweeps. */
const SWEEP_BATCH = 10_000

/**
 * @typedef {object} StoreLimits
 * @property {number} ttl ms a mail is kept unread; notices are kept twice as long, peers as long
 * @property {number} maxMailsPerRecipient
 * @property {number} maxBytesPerRecipient sealed bytes
 * @property {number} maxStoreBytes sealed bytes of all mail together
 * @property {number} maxNoticesPerSender the oldest are dropped past it
 */

/**
 * Opens (creating if needed) the store in `dir`.
 * @param {string} dir
 * @param {StoreLimits} limits
 * @throws {MailboxStoreError} the directory cannot be used, or another relay holds it
 */
export function openMailboxStore (dir, limits) {
  let db
  try {
    mkdirSync(dir, { recursive: true })
    // timeout 0: nothing but another relay process ever holds the lock; say so at once
    db = new Database(join(dir, 'mailbox.sqlite'), { timeout: 0 })
    db.pragma('locking_mode = EXCLUSIVE')
    db.pragma('journal_mode = WAL')
    db.pragma('synchronous = FULL')
    migrate(db)
  } catch (err) {
    db?.close()
    const inUse = err.code === 'SQLITE_BUSY'
    throw new MailboxStoreError(inUse
      ? `the mailbox store in ${dir} is in use by another relay`
      : `cannot open the mailbox store in ${dir}: ${err.message}`, { cause: err })
  }
  return new MailboxStore(db, limits)
}

function migrate (db) {
  const version = db.pragma('user_version', { simple: true })
  if (version === SCHEMA_VERSION) return
  if (version !== 0) throw new Error(`schema version ${version} is newer than this relay's (${SCHEMA_VERSION})`)
  db.transaction(() => {
    db.exec(SCHEMA)
    db.pragma(`user_version = ${SCHEMA_VERSION}`)
  }).immediate()
}

class MailboxStore {
  constructor (db, limits) {
    this.db = db
    this.limits = limits
    this.writer = createWriter(db)
    this.sql = {
      findMail: db.prepare('SELECT mid, expires_at FROM mail WHERE sender = ? AND recipient = ? AND ref = ?'),
      box: db.prepare('SELECT count, bytes FROM boxes WHERE recipient = ?'),
      totals: db.prepare('SELECT count, bytes FROM totals'),
      insertMail: db.prepare(`INSERT INTO mail (recipient, sender, ref, sealed, size, deposited_at, expires_at)
                              VALUES (?, ?, ?, ?, ?, ?, ?)`),
      mailOf: db.prepare('SELECT sender, ref FROM mail WHERE mid = ? AND recipient = ?'),
      deleteMail: db.prepare('DELETE FROM mail WHERE mid = ?'),
      mailFor: db.prepare(`SELECT mid, sender, ref, sealed, deposited_at FROM mail
                           WHERE recipient = ? AND mid > ? AND expires_at > ? ORDER BY mid LIMIT ?`),
      expiredMail: db.prepare('SELECT mid, sender, recipient, ref FROM mail WHERE expires_at <= ? LIMIT ?'),
      insertNotice: db.prepare(`INSERT INTO notices (sender, kind, recipient, ref, at, expires_at)
                                VALUES (?, ?, ?, ?, ?, ?)`),
      noticesFor: db.prepare(`SELECT nid, kind, recipient, ref, at FROM notices
                              WHERE sender = ? AND nid > ? ORDER BY nid LIMIT ?`),
      deleteNotice: db.prepare('DELETE FROM notices WHERE nid = ? AND sender = ?'),
      expireNotices: db.prepare('DELETE FROM notices WHERE expires_at <= ?'),
      trimNotices: db.prepare(`DELETE FROM notices WHERE sender = ? AND nid <=
                                 (SELECT nid FROM notices WHERE sender = ? ORDER BY nid DESC LIMIT 1 OFFSET ?)`),
      countNotices: db.prepare('SELECT count(*) FROM notices').pluck(),
      sawPeer: db.prepare(`INSERT INTO peers (peer, last_seen) VALUES (?, ?)
                           ON CONFLICT (peer) DO UPDATE SET last_seen = max(last_seen, excluded.last_seen)`),
      knowsPeer: db.prepare('SELECT 1 FROM peers WHERE peer = ? AND last_seen >= ?').pluck(),
      forgetPeers: db.prepare('DELETE FROM peers WHERE last_seen < ?')
    }
  }

  /**
   * Queues a job for the next group commit (writer.js).
   * @template T @param {() => T} job @returns {Promise<T>} settles after the COMMIT
   */
  write (job) {
    return this.writer.write(job)
  }

  /**
   * In a write: stores one mail, or finds the same (sender, recipient, ref) stored before.
   * @param {{sender: string, recipient: string, ref: string, sealed: Uint8Array}} mail
   * @param {number} now ms since epoch
   * @returns {{mid: number, expiresAt: number, duplicate: boolean}}
   * @throws {MailboxFullError} over the recipient's quota or the store's cap: nothing stored
   */
  deposit ({ sender, recipient, ref, sealed }, now) {
    const existing = this.sql.findMail.get(sender, recipient, ref)
    if (existing !== undefined) return { mid: existing.mid, expiresAt: existing.expires_at, duplicate: true }
    const size = sealed.byteLength
    const box = this.sql.box.get(recipient) ?? { count: 0, bytes: 0 }
    if (box.count + 1 > this.limits.maxMailsPerRecipient) {
      throw new MailboxFullError(`the mailbox of ${recipient} holds ${box.count} mails, its limit`)
    }
    if (box.bytes + size > this.limits.maxBytesPerRecipient) {
      throw new MailboxFullError(`the mailbox of ${recipient} holds ${box.bytes} bytes; ${size} more would pass its limit of ${this.limits.maxBytesPerRecipient}`)
    }
    if (this.sql.totals.get().bytes + size > this.limits.maxStoreBytes) {
      throw new MailboxFullError('the relay\'s mail store is full')
    }
    const expiresAt = now + this.limits.ttl
    const { lastInsertRowid } = this.sql.insertMail.run(recipient, sender, ref, sealed, size, now, expiresAt)
    return { mid: Number(lastInsertRowid), expiresAt, duplicate: false }
  }

  /**
   * In a write: the recipient is done with these mails; each becomes a
   * 'delivered' notice for its sender. Mids that are not the recipient's are ignored.
   * @param {string} recipient
   * @param {number[]} mids
   * @param {number} now
   * @returns {Set<string>} the senders that have new notices
   */
  ack (recipient, mids, now) {
    const told = new Set()
    for (const mid of mids) {
      const mail = this.sql.mailOf.get(mid, recipient)
      if (mail === undefined) continue // acked before, expired, or not theirs
      this.sql.deleteMail.run(mid)
      this.notify(mail.sender, 'delivered', recipient, mail.ref, now)
      told.add(mail.sender)
    }
    this.trimNotices(told)
    return told
  }

  /** In a write: the sender recorded these notices. Nids that are not the sender's are ignored. */
  ackNotices (sender, nids) {
    for (const nid of nids) this.sql.deleteNotice.run(nid, sender)
  }

  /**
   * In a write: drops mail past its TTL (each becomes an 'expired' notice for
   * its sender), notices past twice the TTL, and peers unseen for a TTL; marks
   * the peers present now as seen.
   * @param {number} now
   * @param {Iterable<string>} present peers holding a mailbox stream now
   * @returns {{expired: number, told: Set<string>}} mails dropped; senders with new notices
   */
  sweep (now, present) {
    const told = new Set()
    const expired = this.sql.expiredMail.all(now, SWEEP_BATCH)
    for (const mail of expired) {
      this.sql.deleteMail.run(mail.mid)
      this.notify(mail.sender, 'expired', mail.recipient, mail.ref, now)
      told.add(mail.sender)
    }
    this.trimNotices(told)
    this.sql.expireNotices.run(now)
    for (const peer of present) this.sql.sawPeer.run(peer, now)
    this.sql.forgetPeers.run(now - this.limits.ttl)
    return { expired: expired.length, told }
  }

  /** In a write: `peer` holds a mailbox stream here now. */
  sawPeer (peer, now) {
    this.sql.sawPeer.run(peer, now)
  }

  /** @returns {boolean} the peer held a mailbox stream here within the TTL */
  knowsPeer (peer, now) {
    return this.sql.knowsPeer.get(peer, now - this.limits.ttl) !== undefined
  }

  /**
   * Unexpired mail for `recipient` after `afterMid`, oldest first.
   * @returns {Array<{mid: number, sender: string, ref: string, sealed: Uint8Array, deposited_at: number}>}
   */
  mailFor (recipient, afterMid, limit, now) {
    return this.sql.mailFor.all(recipient, afterMid, now, limit)
  }

  /** @returns {Array<{nid: number, kind: string, recipient: string, ref: string, at: number}>} oldest first */
  noticesFor (sender, afterNid, limit) {
    return this.sql.noticesFor.all(sender, afterNid, limit)
  }

  /** @returns {{mails: number, bytes: number, notices: number}} what the store holds */
  stats () {
    const totals = this.sql.totals.get()
    return { mails: totals.count, bytes: totals.bytes, notices: this.sql.countNotices.get() }
  }

  /** Commits what is queued, then closes the database. */
  close () {
    if (!this.db.open) return
    this.writer.flush()
    this.db.close()
  }

  notify (sender, kind, recipient, ref, now) {
    this.sql.insertNotice.run(sender, kind, recipient, ref, now, now + 2 * this.limits.ttl)
  }

  trimNotices (senders) {
    for (const sender of senders) this.sql.trimNotices.run(sender, sender, this.limits.maxNoticesPerSender)
  }
}
