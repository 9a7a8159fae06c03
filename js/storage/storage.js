/**
 * The database behind hearthStorage: one sql.js Database, its statements,
 * its transaction state and its durability.
 *
 * Durability design (commit-durable journaling):
 * - Every write statement that succeeds is captured (its SQL text and its
 *   encoded params, or a whole script) into the open transaction's list; a
 *   write outside a transaction autocommits in SQLite and is captured as a
 *   pending list of its own. Reads are not captured (EXPLAIN tells them apart,
 *   see Statements.isReadonly).
 * - commit() runs COMMIT, then appends ONE journal record (journal.js: length,
 *   CRC-32, sequence number, the captured writes) to durable storage and
 *   resolves only when the append is durable. Cost is proportional to the
 *   write, not to the database.
 * - Start-up loads the last snapshot (the whole database as of sequence S)
 *   and replays the records after S, in order and contiguous, each in its own
 *   transaction. A torn or corrupt record ends replay of its segment; it was
 *   never acknowledged.
 * - The journal since the last snapshot is counted as persisted: the records
 *   replayed at open, plus each durable append. When snapshot-policy.js says
 *   it is long enough to slow start-up, a snapshot is taken at a quiescent
 *   point (right after open or a durable append, no transaction open, no
 *   write pending) and written in the background as chunks (snapshot.js),
 *   after which the persistence drops the records it covers. See
 *   file-persistence.js and indexeddb-persistence.js for why each step is
 *   crash-safe.
 * - A snapshot copies only the chunks of the database file written since the
 *   durable one (sqljs.js watches sql.js's file writes), a few at a time
 *   between other work: FileWatch.freeze keeps the chunks as they were at
 *   the quiescent point, so a write meanwhile copies a chunk it would change
 *   first. No step holds the thread for more than snapshotSliceMs; stats()
 *   keeps the longest. Where writes cannot be watched, the whole image is
 *   exported at once as before (db.export(), ~1-3 ms per MB).
 * - Replay re-runs SQL, so writes must be deterministic given the database:
 *   values such as random IDs and timestamps come from Go as parameters,
 *   never from random(), datetime('now') or CURRENT_TIMESTAMP in SQL.
 *
 * Other rules this type enforces:
 * - One transaction at a time, opened by begin() and closed by commit() or
 *   rollback(); callers never run BEGIN/COMMIT/ROLLBACK as statements.
 * - While a commit is being persisted, begin() and writes are refused (reads
 *   are allowed), so nothing is built on data that might still fail to persist.
 * - If persisting fails, the persistence has removed whatever of the record
 *   it wrote, and the in-memory database is rebuilt from durable storage
 *   before commit() rejects: the failed commit is undone, as SQLite undoes a
 *   failed COMMIT, and no later reload or restart brings it back. Handles
 *   stay valid (their statements recompile). If the persistence cannot tell
 *   whether the record survived (StorageOutcomeUnknownError), the storage
 *   closes instead: serving either state could contradict what the next
 *   start finds.
 */

import { decodeParams, FLAG_COMMIT_REQUIRED, ResultWriter } from './codec.js'
import { Statements } from './statements.js'
import { encodeRecord, recordSeq, KIND_SCRIPT, KIND_STATEMENT } from './journal.js'
import { persistError, sqliteError, StorageClosedError, StorageCorruptError, StorageError, StorageOutcomeUnknownError, StorageTransactionError } from './errors.js'
import { DEFAULT_SNAPSHOT_POLICY, snapshotDue, worthSnapshotWhenIdle } from './snapshot-policy.js'
import { checkWriteWatching, openDatabaseOwning, watchDatabaseFile } from './sqljs.js'

/** The longest a snapshot copies chunks before letting other work run (copyImage). */
const SNAPSHOT_SLICE_MS = 4
/** How long after open a snapshot due then waits: past the first requests of a start-up. */
const OPEN_SNAPSHOT_DELAY_MS = 1000
/**
 * After a failed snapshot the next waits this long, doubling with each
 * failure up to the maximum: a failure that lasts (storage over its quota)
 * must not become a loop copying the whole database again and again.
 */
const SNAPSHOT_RETRY_MIN_MS = 1000
const SNAPSHOT_RETRY_MAX_MS = 5 * 60 * 1000

export class Storage {
  /**
   * @param {object|Promise<object>} SQL initialised sql.js module, or its promise
   *   (the persistence reads meanwhile)
   * @param {object} persistence load/append/snapshot/close, see file-persistence.js
   * @param {{snapshotPolicy?: object|null, now?: () => number, openSnapshotDelayMs?: number, snapshotSliceMs?: number, onOpenStep?: (step: string) => void}} [options]
   *   snapshotPolicy: overrides of DEFAULT_SNAPSHOT_POLICY, or null for never
   *   (nothing to compact in memory); now: the clock pauses are measured with (ms);
   *   openSnapshotDelayMs: how long a snapshot due at open waits (1 s);
   *   snapshotSliceMs: how long a snapshot copies before yielding (4 ms)
   *   onOpenStep: called as opening passes each step, for start-up timing: 'read'
   *   (snapshot and journal read), 'imageOpened' (the snapshot is sql.js's
   *   database; the journal's replay comes next)
   */
  static async open (sqlJs, persistence, options = {}) {
    const step = options.onOpenStep ?? (() => {})
    const [SQL, state] = await Promise.all([sqlJs, persistence.load().then((loaded) => { step('read'); return loaded })])
    const storage = new Storage(SQL, persistence, openDatabase(SQL, state.snapshot), options)
    step('imageOpened')
    storage.watchFile(state)
    storage.seq = state.lastSeq
    storage.replay(state.records)
    // A journal left long by earlier lives is compacted soon, not at the next
    // write; not now: a snapshot's copying and writing would compete with
    // start-up's first requests.
    storage.snapshotSoon(options.openSnapshotDelayMs ?? OPEN_SNAPSHOT_DELAY_MS)
    return storage
  }

  constructor (SQL, persistence, db, options) {
    this.SQL = SQL
    this.persistence = persistence
    this.db = db
    this.statements = new Statements(SQL, db)
    /**
     * a lower bound of the database's size in bytes, the last one read: the
     * size never shrinks (no VACUUM, no auto_vacuum) until reload replaces
     * the database, which resets it
     */
    this.knownDatabaseBytes = 0
    /** when to snapshot (snapshot-policy.js); null: never */
    this.snapshotPolicy = options.snapshotPolicy === null ? null : { ...DEFAULT_SNAPSHOT_POLICY, ...options.snapshotPolicy }
    /** which chunks of the database file were written (sqljs.js), or null: snapshots export it all */
    this.fileWatch = null
    /** the durable snapshot is the file as fileWatch last started counting: unwritten chunks can be kept */
    this.snapshotBase = false
    /** how long a snapshot copies chunks before letting other work run, ms (copyImage) */
    this.snapshotSliceMs = options.snapshotSliceMs ?? SNAPSHOT_SLICE_MS
    /** milliseconds, for measuring pauses */
    this.now = options.now ?? (() => performance.now())
    /** sequence number of the last durable journal record (or of the snapshot) */
    this.seq = 0
    /** an explicit transaction is open */
    this.inTransaction = false
    /** writes of the open transaction, in order */
    this.transactionWrites = []
    /** autocommitted writes not yet made durable */
    this.pendingWrites = []
    /**
     * ms the scripts (schema migrations) among transactionWrites and
     * pendingWrites took to run: what replaying them will cost, counted into
     * journal.replayMs once durable, so a migrated database is snapshotted in
     * the life that migrated it (snapshot-policy.js)
     */
    this.transactionScriptMs = 0
    this.pendingScriptMs = 0
    /** the promise of the commit being persisted, or null */
    this.committing = null
    /** the promise of the snapshot being written, or null */
    this.snapshotting = null
    /** durable states being read (backups): snapshots wait until none is */
    this.durableReaders = 0
    /** the timer of a snapshot put off from open (snapshotSoon), or null */
    this.snapshotTimer = null
    /** after failed snapshots: how long the next waits (ms, 0 after a success), and until when */
    this.snapshotRetryMs = 0
    this.snapshotRetryAt = 0
    /**
     * the durable journal the next open would replay: records after the last
     * snapshot taken, their bytes, the statements in them (writes), and what
     * replaying them costs in ms: as measured for records replayed at open,
     * as their scripts ran for records of this life (snapshot-policy.js)
     */
    this.journal = emptyJournal()
    /** null while usable; the reason otherwise */
    this.closedReason = null
    this.counters = {
      commits: 0,
      /** ms the commits waited for their journal record to be durable (the persistence's append), in all */
      commitWaitMs: 0,
      journalBytesWritten: 0,
      snapshots: 0,
      /** chunks and manifests written (changed chunks only) */
      snapshotBytesWritten: 0,
      snapshotChunksWritten: 0,
      snapshotFailures: 0,
      /** the longest a snapshot held the thread (copying the image), and the last, ms */
      snapshotPauseMaxMs: 0,
      snapshotPauseLastMs: 0,
      /** bytes the snapshots copied from the database while holding the thread */
      snapshotBytesCopied: 0,
      persistFailures: 0,
      reloads: 0,
      /** journal records and bytes replayed at open (and at reloads), and the ms it took */
      replayed: 0,
      replayedBytes: 0,
      replayMs: 0
    }
  }

  prepare (sql) {
    this.checkOpen()
    return this.statements.acquire(String(sql))
  }

  finalize (handle) {
    this.statements.release(handle)
  }

  /** Runs a prepared statement with encoded params; returns the encoded result. */
  run (handle, params) {
    this.checkOpen()
    return this.execute(this.statements.byHandle(handle), params)
  }

  /** Runs sql once with encoded params; returns the encoded result. */
  query (sql, params) {
    this.checkOpen()
    return this.statements.withEntry(String(sql), entry => this.execute(entry, params))
  }

  /**
   * Runs a script of one or more statements without parameters (schema
   * migrations, pragmas). Returns an encoded result without rows.
   */
  exec (sql) {
    this.checkOpen()
    this.checkNotCommitting()
    sql = String(sql)
    const before = this.inTransaction ? null : this.fingerprint()
    const started = this.now()
    try {
      this.db.run(sql)
    } catch (err) {
      throw sqliteError(err)
    }
    const took = this.now() - started
    let flags = 0
    const write = { kind: KIND_SCRIPT, sql, params: null }
    if (this.inTransaction) {
      this.transactionWrites.push(write)
      this.transactionScriptMs += took
    } else if (this.fingerprint() !== before) {
      this.pendingWrites.push(write)
      this.pendingScriptMs += took
      flags = FLAG_COMMIT_REQUIRED
    }
    const out = new ResultWriter()
    out.header(flags, this.db.getRowsModified(), this.statements.lastInsertRowid(), [])
    return out.finish()
  }

  begin () {
    this.checkOpen()
    this.checkNotCommitting()
    if (this.inTransaction) throw new StorageTransactionError('a transaction is already open')
    this.db.run('BEGIN')
    this.inTransaction = true
    this.transactionWrites = []
    this.transactionScriptMs = 0
    this.persistence.prepareAppend?.()
  }

  rollback () {
    this.checkOpen()
    if (!this.inTransaction) throw new StorageTransactionError('no transaction is open')
    this.inTransaction = false
    this.transactionWrites = []
    this.transactionScriptMs = 0
    // SQLite may have rolled back already (e.g. after SQLITE_FULL); then ROLLBACK fails harmlessly.
    try { this.db.run('ROLLBACK') } catch {}
  }

  /**
   * Commits the open transaction (if any) and makes every committed write
   * durable. Resolves when durable; rejects with a named StorageError, and
   * then the database is as it was before the transaction.
   * @returns {Promise<void>}
   */
  commit () {
    try {
      this.checkOpen()
      this.checkNotCommitting()
      if (this.inTransaction) {
        try {
          this.db.run('COMMIT')
        } catch (err) {
          // e.g. a deferred foreign key failed: the transaction is still open; undo it.
          this.rollback()
          throw sqliteError(err)
        }
        this.inTransaction = false
        this.pendingWrites.push(...this.transactionWrites)
        this.transactionWrites = []
        this.pendingScriptMs += this.transactionScriptMs
        this.transactionScriptMs = 0
      }
    } catch (err) {
      return Promise.reject(err)
    }
    if (this.pendingWrites.length === 0) return Promise.resolve()
    const seq = this.seq + 1
    const record = encodeRecord(seq, this.pendingWrites)
    const scriptMs = this.pendingScriptMs
    const writes = this.pendingWrites.length
    this.pendingWrites = []
    this.pendingScriptMs = 0
    const appended = this.now()
    this.committing = this.persistence.append(seq, record).then(() => {
      this.seq = seq
      this.counters.commits++
      this.counters.commitWaitMs += this.now() - appended
      this.counters.journalBytesWritten += record.length
      this.journal.records++
      this.journal.bytes += record.length
      this.journal.writes += writes
      this.journal.replayMs += scriptMs
      this.maybeSnapshot()
      // Re-armed by every commit: fires once writes pause (snapshot-policy.js idleMs).
      if (this.snapshotPolicy !== null && worthSnapshotWhenIdle(this.snapshotPolicy, this.journal)) this.snapshotSoon(this.snapshotPolicy.idleMs)
    }, async err => {
      this.counters.persistFailures++
      if (err instanceof StorageOutcomeUnknownError) await this.closeWith(`a commit's outcome is unknown: ${err.message}`)
      else await this.reload()
      throw persistError(err)
    }).finally(() => { this.committing = null })
    return this.committing
  }

  stats () {
    return {
      /** the database image's size (page_count × page_size): what sql.js holds */
      databaseBytes: this.closedReason === null ? this.databaseSize() : 0,
      openStatements: this.statements.openStatements,
      /** statement runs that SQLite compiled again first (after a schema change; statements.js says what else did it) */
      statementsRecompiled: this.statements.recompiled,
      handles: this.statements.handles.size,
      inTransaction: this.inTransaction,
      watchedWrites: this.fileWatch !== null,
      seq: this.seq,
      journalRecords: this.journal.records,
      journalBytes: this.journal.bytes,
      journalWrites: this.journal.writes,
      snapshotting: this.snapshotting !== null,
      /** a snapshot waits for its moment (after open, or for writes to pause): see snapshotSoon */
      snapshotWaiting: this.snapshotTimer !== null,
      ...this.counters
    }
  }

  /**
   * The database image, and the rows of one read, as of the same committed
   * transaction: what a backup (js/backup) needs. Waits for a quiescent point
   * (no commit being persisted, no transaction open, no autocommitted write
   * waiting for its commit), then copies the image in one synchronous step,
   * so the server pauses only for that copy (~1 ms per MB, as a snapshot).
   * The copy is the only one: the caller streams it out.
   * @param {{select?: string}} [options] a read-only query run at that moment
   * @returns {Promise<{image: Uint8Array, seq: number, rows: unknown[][]}>}
   */
  async exportSnapshot ({ select } = {}) {
    for (;;) {
      this.checkOpen()
      if (this.committing) await this.committing.catch(() => {})
      else if (this.inTransaction || this.pendingWrites.length > 0) await new Promise(resolve => setTimeout(resolve, 1))
      else break
    }
    const image = this.db.export()
    const rows = select ? (this.db.exec(select)[0]?.values ?? []) : []
    return { image, seq: this.seq, rows }
  }

  /**
   * What durable storage holds as of the last durable commit, read beside the
   * running server without copying its database (a backup): the snapshot's
   * chunks, read a piece at a time, and the journal records after it. The
   * server is not held at all; snapshots are put off until release(), since a
   * snapshot replaces chunks and drops records being read. Replaying the
   * records over the image gives the database as of `seq`.
   * @param {{select?: string}} [options] a read-only query answered from the
   *   live database (for what does not change, such as the server's identity)
   * @returns {Promise<import('./snapshot.js').DurableState & {seq: number, rows: unknown[][], release: () => void}>}
   */
  async durableState ({ select } = {}) {
    this.checkOpen()
    if (typeof this.persistence.durable !== 'function') throw new StorageError('this store keeps nothing durable to read')
    this.durableReaders++
    let released = false
    const release = () => {
      if (released) return
      released = true
      this.durableReaders--
      if (this.closedReason === null && this.committing === null) this.maybeSnapshot()
    }
    try {
      while (this.snapshotting) await this.snapshotting.catch(() => {})
      this.checkOpen()
      const seq = this.seq
      const rows = select ? (this.db.exec(select)[0]?.values ?? []) : []
      const state = await this.persistence.durable(seq)
      const first = state.snapshotSeq + 1
      if (state.records.length !== seq - state.snapshotSeq || state.records.some((r, i) => recordSeq(r) !== first + i)) {
        throw new StorageCorruptError(`the durable journal does not hold records ${first} to ${seq}`)
      }
      return { ...state, seq, rows, release }
    } catch (err) {
      release()
      throw err
    }
  }

  /** Resolves when no snapshot is being written (tests, benchmarks, close). */
  async settled () {
    while (this.committing || this.snapshotting) {
      await (this.committing ?? this.snapshotting).catch(() => {})
    }
  }

  async close () {
    if (this.closedReason !== null) return
    await this.settled()
    if (this.snapshotTimer !== null) {
      // Put off from open or until writes paused, and still due: the next open should not replay it again.
      clearTimeout(this.snapshotTimer)
      this.snapshotTimer = null
      if (this.committing === null) this.maybeSnapshot({ idle: true })
      await this.settled()
    }
    if (this.inTransaction) this.rollback()
    await this.closeWith('the storage is closed')
  }

  // --- internals ---

  /** Refuses every later call with reason, and frees the database and the persistence. */
  async closeWith (reason) {
    if (this.closedReason !== null) return
    this.closedReason = reason
    this.statements.freeAll()
    this.db.close()
    await this.persistence.close()
  }

  execute (entry, paramBytes) {
    const params = decodeParams(paramBytes)
    const readonly = this.statements.isReadonly(entry)
    if (!readonly) this.checkNotCommitting()
    const out = this.statements.run(entry, params, {
      flags: !readonly && !this.inTransaction ? FLAG_COMMIT_REQUIRED : 0,
      wantsChanges: !readonly
    })
    if (!readonly) {
      // A copy: the bytes may be a view of a buffer the caller fills again (hearthStorage's).
      const write = { kind: KIND_STATEMENT, sql: entry.sql, params: paramBytes ? paramBytes.slice() : null }
      if (this.inTransaction) this.transactionWrites.push(write)
      else this.pendingWrites.push(write)
    }
    return out
  }

  /** Applies journal records after this.seq, in order, each in a transaction of its own. */
  replay (records) {
    const started = this.now()
    const before = this.journal.records
    try {
      this.replayRecords(records)
    } finally {
      if (this.journal.records > before) {
        const took = this.now() - started
        this.journal.replayMs += took
        this.counters.replayMs += took
      }
    }
  }

  /**
   * All records in one transaction: a transaction per record made SQLite
   * write each record's pages to the file again at its COMMIT. A record that
   * fails ends the open either way (nothing after it could apply). A record
   * with a VACUUM (go/storage GiveBackFreedPages) ran outside any
   * transaction, as SQLite requires, and is replayed so: the transaction
   * open before it commits first.
   */
  replayRecords (records) {
    const applied = []
    let seq = this.seq
    let open = false
    const commit = (last) => {
      if (!open) return
      open = false
      try {
        this.db.run('COMMIT')
      } catch (err) {
        try { this.db.run('ROLLBACK') } catch {}
        throw new StorageError(`replaying journal records ${applied[0].seq} to ${last} failed at commit: ${err?.message ?? err}`, { cause: err })
      }
    }
    for (const record of records) {
      if (record.seq <= seq) continue // covered by the snapshot
      if (record.seq !== seq + 1) break // a gap: nothing after it can be applied
      const alone = record.writes.some(w => w.kind === KIND_SCRIPT && /\bVACUUM\b/i.test(w.sql))
      if (alone) commit(seq)
      else if (!open) {
        this.db.run('BEGIN')
        open = true
      }
      try {
        for (const w of record.writes) {
          if (w.kind === KIND_SCRIPT) {
            this.db.run(w.sql)
          } else {
            this.statements.withEntry(w.sql, entry => this.statements.run(entry, decodeParams(w.params), { flags: 0, wantsChanges: false }))
          }
        }
      } catch (err) {
        if (open) try { this.db.run('ROLLBACK') } catch {}
        throw new StorageError(`replaying journal record ${record.seq} failed: ${err?.message ?? err}`, { cause: err })
      }
      applied.push(record)
      seq = record.seq
    }
    if (applied.length === 0) return
    commit(seq)
    this.seq = seq
    for (const record of applied) {
      this.counters.replayed++
      this.counters.replayedBytes += record.bytes
      this.journal.records++
      this.journal.bytes += record.bytes
      this.journal.writes += record.writes.length
    }
  }

  /**
   * Calls maybeSnapshot as after a pause in writes (policy idleRecords, idleWrites), ms
   * from now, or again ms later while the storage is busy then (a commit,
   * a transaction, a snapshot or a backup under way).
   */
  snapshotSoon (ms) {
    if (this.snapshotPolicy === null) return
    clearTimeout(this.snapshotTimer)
    this.snapshotTimer = setTimeout(() => {
      this.snapshotTimer = null
      if (this.closedReason !== null) return
      if (this.quiescent()) this.maybeSnapshot({ idle: true })
      else this.snapshotSoon(ms)
    }, ms)
    this.snapshotTimer.unref?.() // a Node process may end before it fires
  }

  /** Nothing is being written: no commit, snapshot or backup under way, no transaction or write waiting. */
  quiescent () {
    return this.committing === null && this.snapshotMayStart()
  }

  /** A snapshot may start, a commit's own callback aside (it runs while that commit is still this.committing). */
  snapshotMayStart () {
    return this.snapshotting === null && this.durableReaders === 0 && !this.inTransaction && this.pendingWrites.length === 0
  }

  /**
   * Starts a background snapshot if the policy says it is due. Call only
   * with no commit being persisted.
   * @param {{idle?: boolean}} [when] idle: writes have paused (snapshotSoon)
   */
  maybeSnapshot (when) {
    if (this.snapshotPolicy === null || !this.snapshotMayStart()) return
    const retryIn = this.snapshotRetryAt - this.now()
    if (retryIn > 0) {
      // A timer may fire a little before this clock says it is due: keep one armed.
      if (this.snapshotTimer === null) this.snapshotSoon(Math.ceil(retryIn))
      return
    }
    // The size bound only grows with the database: if the journal is short of
    // it at the last size read, it is short of it now, and the database is not
    // asked (a read outside a transaction costs sql.js file-system calls:
    // 0.1 ms of every message send in V8's profile of bench/wasm-send.js).
    if (!snapshotDue(this.snapshotPolicy, this.journal, () => this.knownDatabaseBytes, when)) return
    if (!snapshotDue(this.snapshotPolicy, this.journal, () => this.databaseSize(), when)) return
    const covered = this.journal
    this.journal = emptyJournal()
    // Handed over now, while copying goes on: the persistence marks its place
    // in the journal at this quiescent point (file-persistence.js).
    const image = this.copyImage()
    image.catch(() => {}) // the snapshot's own promise reports a failure
    this.snapshotting = this.persistence.snapshot(this.seq, image).then(written => {
      this.snapshotRetryMs = 0
      this.snapshotRetryAt = 0
      this.snapshotBase = this.fileWatch !== null
      this.counters.snapshots++
      this.counters.snapshotBytesWritten += written?.bytesWritten ?? 0
      this.counters.snapshotChunksWritten += written?.chunksWritten ?? 0
    }, () => {
      // The journal still holds everything: count it again, so a later snapshot
      // retries (with the whole file: the chunks taken are no longer counted as
      // written), after a pause that grows with each failure.
      this.snapshotBase = false
      this.counters.snapshotFailures++
      const now = this.journal
      this.journal = { records: now.records + covered.records, bytes: now.bytes + covered.bytes, writes: now.writes + covered.writes, replayMs: now.replayMs + covered.replayMs }
      this.snapshotRetryMs = Math.min(SNAPSHOT_RETRY_MAX_MS, Math.max(SNAPSHOT_RETRY_MIN_MS, this.snapshotRetryMs * 2))
      this.snapshotRetryAt = this.now() + this.snapshotRetryMs
      this.snapshotSoon(this.snapshotRetryMs)
    }).finally(() => {
      this.snapshotting = null
      // Commits made meanwhile found a snapshot under way and skipped theirs:
      // take it now if they made one due, unless a commit is still being
      // persisted (the image would hold a record the journal does not yet).
      if (this.closedReason === null && this.committing === null) this.maybeSnapshot()
    })
  }

  /**
   * Watches the database file for the chunks a snapshot must copy
   * (sqljs.js), when snapshots are taken and the persistence stores chunks.
   * state: what the database was opened from; chunks of the same size are
   * the durable base, so a snapshot copies only those written since.
   */
  watchFile (state) {
    const chunkBytes = this.persistence.chunkBytes
    this.fileWatch = this.snapshotPolicy !== null && chunkBytes > 0 ? watchDatabaseFile(this.db, chunkBytes) : null
    this.snapshotBase = this.fileWatch !== null && state.snapshotChunkBytes === chunkBytes
  }

  /**
   * The image a snapshot stores, as of now (a quiescent point; the caller
   * takes the sequence number at the same moment): the chunks of the file
   * written since the durable snapshot when writes are watched (all of them
   * without a durable base), else a whole export(). Watched chunks are copied
   * a few at a time, yielding between (FileWatch.freeze keeps them as they
   * were), so a snapshot holds the thread for about snapshotSliceMs at most.
   * @returns {Promise<Uint8Array|import('./snapshot.js').ImageChunks>}
   */
  async copyImage () {
    let started = this.now()
    const held = () => {
      const pause = this.now() - started
      this.counters.snapshotPauseLastMs = Math.max(this.counters.snapshotPauseLastMs, pause)
      this.counters.snapshotPauseMaxMs = Math.max(this.counters.snapshotPauseMaxMs, pause)
    }
    this.counters.snapshotPauseLastMs = 0
    // A watch that cannot be relied on (the check failed, or its bookkeeping did) is dropped for good.
    if (this.fileWatch !== null && (!this.fileWatch.usable() || !checkWriteWatching().watching)) this.fileWatch = null
    const watch = this.fileWatch
    if (watch === null) {
      const image = this.db.export()
      held()
      this.counters.snapshotBytesCopied += image.length
      return image
    }
    const { chunks, everything } = watch.take()
    const length = watch.length()
    const count = Math.ceil(length / watch.chunkBytes)
    const complete = everything || !this.snapshotBase
    const indexes = complete ? Array.from({ length: count }, (_, i) => i) : [...chunks].filter(i => i < count).sort((a, b) => a - b)
    const frozen = watch.freeze(indexes, length)
    try {
      for (const i of indexes) {
        if (this.now() - started >= this.snapshotSliceMs) {
          held()
          await new Promise(resolve => setTimeout(resolve, 0))
          started = this.now()
        }
        watch.copyPending(i)
      }
      held()
    } finally {
      watch.thaw()
    }
    const copied = indexes.map(index => ({ index, bytes: frozen.copies.get(index) }))
    this.counters.snapshotBytesCopied += copied.reduce((n, c) => n + c.bytes.length, 0)
    return { length, chunkBytes: watch.chunkBytes, complete, chunks: copied }
  }

  databaseSize () {
    this.knownDatabaseBytes = this.statements.databaseBytes()
    return this.knownDatabaseBytes
  }

  /** Changes whenever a script wrote rows, the schema or user_version. */
  fingerprint () {
    const [res] = this.db.exec('SELECT total_changes(), (SELECT schema_version FROM pragma_schema_version), (SELECT user_version FROM pragma_user_version)')
    return res.values[0].join(',')
  }

  /** Rebuilds the in-memory database from durable storage. */
  async reload () {
    this.counters.reloads++
    try {
      if (this.snapshotting) await this.snapshotting
      const state = await this.persistence.load()
      const db = openDatabase(this.SQL, state.snapshot)
      this.statements.freeAll()
      this.db.close()
      this.db = db
      this.statements.rebind(db)
      this.knownDatabaseBytes = 0
      this.inTransaction = false
      this.transactionWrites = []
      this.pendingWrites = []
      this.transactionScriptMs = 0
      this.pendingScriptMs = 0
      this.watchFile(state)
      this.seq = state.lastSeq
      this.journal = emptyJournal()
      this.replay(state.records)
    } catch (err) {
      this.closedReason = `reloading after a failed commit failed: ${err?.message ?? err}`
    }
  }

  checkOpen () {
    if (this.closedReason !== null) throw new StorageClosedError(this.closedReason)
  }

  checkNotCommitting () {
    if (this.committing !== null) {
      throw new StorageTransactionError('a commit is being persisted; wait for it before writing')
    }
  }
}

/** Storage.journal with nothing in it. */
function emptyJournal () {
  return { records: 0, bytes: 0, writes: 0, replayMs: 0 }
}

function openDatabase (SQL, bytes) {
  const db = openDatabaseOwning(SQL, bytes)
  // The rollback journal only needs to outlive a transaction, never a crash:
  // durability is ours (see commit), so keep it in memory.
  db.run('PRAGMA journal_mode=MEMORY')
  // This connection is the file's only one, so it may hold its lock: in the
  // default mode every statement outside a transaction takes and drops the
  // file's lock and checks the file's change counter through Emscripten's
  // file system: ~12 µs a statement in sql.js under Node, ten times a read
  // by key (bench storage.read).
  db.run('PRAGMA locking_mode=EXCLUSIVE')
  return db
}
