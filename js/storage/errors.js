/**
 * Errors thrown by js/storage. Each has a stable `name`; that name, with the
 * message, is what crosses the bridge to Go ({name, message}), and Go branches
 * on the name only (go/storage/sqljs/errors.go). Never rename one.
 */

/** Base class: any storage failure that has no more specific name. */
export class StorageError extends Error {
  constructor (message, options) {
    super(message, options)
    this.name = 'StorageError'
  }
}

/** SQLite rejected a statement (syntax, missing table, type mismatch…). */
export class SQLiteError extends StorageError {
  constructor (message, options) {
    super(message, options)
    this.name = 'SQLiteError'
  }
}

/** A UNIQUE, NOT NULL, CHECK, FOREIGN KEY or PRIMARY KEY constraint failed. */
export class SQLiteConstraintError extends SQLiteError {
  constructor (message, options) {
    super(message, options)
    this.name = 'SQLiteConstraintError'
  }
}

/**
 * The browser (IndexedDB QuotaExceededError) or the disk (ENOSPC, EDQUOT)
 * refused to store more. The commit that hit it did not happen: the database
 * is back to its last durable state. Go maps it to M_RESOURCE_LIMIT_EXCEEDED.
 */
export class StorageQuotaError extends StorageError {
  constructor (message, options) {
    super(message, options)
    this.name = 'StorageQuotaError'
  }
}

/** Writing to durable storage failed for another reason; the commit did not happen. */
export class StoragePersistError extends StorageError {
  constructor (message, options) {
    super(message, options)
    this.name = 'StoragePersistError'
  }
}

/**
 * Persisting a commit failed after its record was written, and the record
 * could not be removed: it may or may not be durable, so neither the state
 * before nor after the commit can be served as the truth. The storage closes
 * (later calls get StorageClosedError); the next start reads what the disk
 * kept. Only file persistence can end here: an IndexedDB transaction commits
 * whole or not at all.
 */
export class StorageOutcomeUnknownError extends StorageError {
  constructor (message, options) {
    super(message, options)
    this.name = 'StorageOutcomeUnknownError'
  }
}

/** begin inside a transaction, commit or rollback outside one, or a call while a commit is in flight. */
export class StorageTransactionError extends StorageError {
  constructor (message, options) {
    super(message, options)
    this.name = 'StorageTransactionError'
  }
}

/** The storage was closed, or a statement handle is unknown. */
export class StorageClosedError extends StorageError {
  constructor (message, options) {
    super(message, options)
    this.name = 'StorageClosedError'
  }
}

/**
 * What durable storage holds cannot be read back: a manifest whose checksum
 * fails, a missing or short snapshot chunk. Opening fails rather than
 * starting from a database that is not the one acknowledged.
 */
export class StorageCorruptError extends StorageError {
  constructor (message, options) {
    super(message, options)
    this.name = 'StorageCorruptError'
  }
}

/** Wraps an exception from sql.js (which throws plain Errors or even strings) in a named error. */
export function sqliteError (err) {
  if (err instanceof StorageError) return err
  const message = err instanceof Error ? err.message : String(err)
  if (/constraint failed/i.test(message)) return new SQLiteConstraintError(message, { cause: err })
  return new SQLiteError(message, { cause: err })
}

/** Wraps a persistence failure, recognising quota errors from IndexedDB and from the file system. */
export function persistError (err) {
  if (err instanceof StorageError) return err
  const name = err?.name
  const code = err?.code
  const message = err instanceof Error ? err.message : String(err)
  if (name === 'QuotaExceededError' || code === 'ENOSPC' || code === 'EDQUOT') {
    return new StorageQuotaError(`storage quota exceeded: ${message}`, { cause: err })
  }
  return new StoragePersistError(`persisting failed: ${message}`, { cause: err })
}

/** The plain shape an error takes on the bridge. */
export function errorShape (err) {
  const named = err instanceof StorageError ? err : sqliteError(err)
  return { name: named.name, message: named.message }
}
