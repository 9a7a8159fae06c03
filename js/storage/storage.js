/**
 * The database behind hearthStorage: one sql.js Database, its statements,
 * its transaction state and its durability.
 *
 * Rules this type enforces:
 * - One transaction at a time, opened by begin() and closed by commit() or
 *   rollback(); BEGIN/COMMIT/ROLLBACK are never run as statements by callers.
 * - A write outside a transaction autocommits in SQLite and is reported with
 *   the commit-required flag; the caller must then call commit(), which makes
 *   it durable. Go's driver does this for every such write.
 * - commit() resolves only once the committed data is durable. While that is
 *   in flight, begin() and writes are refused (reads are allowed), so nothing
 *   can be built on data that might still fail to persist.
 * - If persisting fails, the in-memory database is reloaded from durable
 *   storage before commit() rejects: the failed commit is undone, as SQLite
 *   would undo a failed COMMIT. Handles stay valid (their statements are
 *   compiled again).
 */

import { decodeParams, FLAG_COMMIT_REQUIRED, ResultWriter } from './codec.js'
import { Statements } from './statements.js'
import { persistError, sqliteError, StorageClosedError, StorageTransactionError } from './errors.js'

export class Storage {
  /**
   * @param {object} SQL initialised sql.js module
   * @param {{load(): Promise<Uint8Array|null>, save(bytes: Uint8Array): Promise<void>, close(): Promise<void>}} persistence
   */
  static async open (SQL, persistence) {
    const bytes = await persistence.load()
    return new Storage(SQL, persistence, openDatabase(SQL, bytes))
  }

  constructor (SQL, persistence, db) {
    this.SQL = SQL
    this.persistence = persistence
    this.db = db
    this.statements = new Statements(SQL, db)
    /** an explicit transaction is open */
    this.inTransaction = false
    /** the open transaction ran a write */
    this.transactionWrote = false
    /** committed in SQLite but not yet durable (autocommitted writes, or a commit being persisted) */
    this.dirty = false
    /** the promise of the commit being persisted, or null */
    this.committing = null
    /** null while usable; the reason otherwise */
    this.closedReason = null
    this.counters = { commits: 0, persistedBytes: 0, persistFailures: 0, reloads: 0 }
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
    const before = this.inTransaction ? null : this.fingerprint()
    try {
      this.db.run(String(sql))
    } catch (err) {
      throw sqliteError(err)
    }
    let flags = 0
    if (this.inTransaction) {
      this.transactionWrote = true
    } else if (this.fingerprint() !== before) {
      this.dirty = true
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
    this.transactionWrote = false
  }

  rollback () {
    this.checkOpen()
    if (!this.inTransaction) throw new StorageTransactionError('no transaction is open')
    this.inTransaction = false
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
        if (this.transactionWrote) this.dirty = true
      }
    } catch (err) {
      return Promise.reject(err)
    }
    if (!this.dirty) return Promise.resolve()
    this.dirty = false
    const snapshot = this.db.export()
    this.committing = this.persistence.save(snapshot).then(() => {
      this.counters.commits++
      this.counters.persistedBytes += snapshot.length
    }, async err => {
      this.counters.persistFailures++
      await this.reload()
      throw persistError(err)
    }).finally(() => { this.committing = null })
    return this.committing
  }

  stats () {
    return {
      openStatements: this.statements.openStatements,
      handles: this.statements.handles.size,
      inTransaction: this.inTransaction,
      ...this.counters
    }
  }

  async close () {
    if (this.closedReason !== null) return
    if (this.committing) await this.committing.catch(() => {})
    if (this.inTransaction) this.rollback()
    this.closedReason = 'the storage is closed'
    this.statements.freeAll()
    this.db.close()
    await this.persistence.close()
  }

  // --- internals ---

  execute (entry, paramBytes) {
    const params = decodeParams(paramBytes)
    const readonly = this.statements.isReadonly(entry)
    if (!readonly) this.checkNotCommitting()
    const wrote = !readonly
    const out = this.statements.run(entry, params, {
      flags: wrote && !this.inTransaction ? FLAG_COMMIT_REQUIRED : 0,
      wantsChanges: wrote
    })
    if (wrote) {
      if (this.inTransaction) this.transactionWrote = true
      else this.dirty = true
    }
    return out
  }

  /** Changes whenever a script wrote rows, the schema or user_version. */
  fingerprint () {
    const [res] = this.db.exec('SELECT total_changes(), (SELECT schema_version FROM pragma_schema_version), (SELECT user_version FROM pragma_user_version)')
    return res.values[0].join(',')
  }

  /** Replaces the in-memory database with the durable one. */
  async reload () {
    this.counters.reloads++
    try {
      const bytes = await this.persistence.load()
      const db = openDatabase(this.SQL, bytes)
      this.statements.freeAll()
      this.db.close()
      this.db = db
      this.statements.rebind(db)
      this.inTransaction = false
      this.dirty = false
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

function openDatabase (SQL, bytes) {
  const db = new SQL.Database(bytes ?? undefined)
  // The rollback journal only needs to outlive a transaction, never a crash:
  // durability is ours (see commit), so keep it in memory.
  db.run('PRAGMA journal_mode=MEMORY')
  return db
}
