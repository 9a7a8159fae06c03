/**
 * js/storage: SQLite (sql.js) with commit durability, shaped as the
 * hearthStorage bridge global. Install the returned `storage` with
 * provide(GLOBALS.storage, storage) (or its promise) before the wasm starts; its shape is
 * documented in js/bridge/globals.js and go/bridge/storage_js.go.
 */

import { loadSqlJs } from './sqljs.js'
import { Storage } from './storage.js'
import { errorShape, StorageCorruptError, StorageError } from './errors.js'
import { decodeRecords } from './journal.js'

export { StorageError, SQLiteError, SQLiteConstraintError, StorageQuotaError, StoragePersistError, StorageTransactionError, StorageClosedError, StorageCorruptError, StorageOutcomeUnknownError } from './errors.js'
export { DEFAULT_SNAPSHOT_POLICY } from './snapshot-policy.js'

/** Version of the hearthStorage shape; Go checks it. */
export const STORAGE_VERSION = 2

/**
 * @param {object} [options]
 * @param {object} [options.initSqlJs] passed to sql.js's initSqlJs (locateFile, wasmBinary), and
 *   immutable (loadSqlJs, js/storage/sqljs.js)
 * @param {'memory'|'indexeddb'|'file'} [options.persistence='memory']
 * @param {string} [options.name='hearth'] IndexedDB database name, or file base name
 * @param {string} [options.dir] directory for 'file' persistence (Node)
 * @param {IDBFactory} [options.indexedDB] for 'indexeddb' (default globalThis.indexedDB)
 * @param {typeof IDBKeyRange} [options.IDBKeyRange] for 'indexeddb' (default globalThis.IDBKeyRange)
 * @param {object} [options.snapshotPolicy] overrides of DEFAULT_SNAPSHOT_POLICY
 *   (snapshot-policy.js): when the journal since the last snapshot is long
 *   enough that a snapshot (which drops the journal it covers) is taken
 * @param {number} [options.openSnapshotDelayMs=1000] how long a snapshot due at open
 *   waits (it holds the thread; start-up is answering its first requests)
 * @param {number} [options.snapshotSliceMs=4] how long a snapshot copies the
 *   database's changed chunks before letting other work run
 * @param {number} [options.snapshotChunkBytes=262144] the size of the chunks
 *   snapshots are stored in (snapshot.js); only changed chunks are rewritten
 * @param {Promise<unknown>} [options.readAfter] nothing is read before it resolves (sw.js's
 *   server lock: another server may still be writing); sql.js compiles and the IndexedDB
 *   connection opens meanwhile. If it rejects, so does createStorage.
 * @param {(step: string) => void} [options.onOpenStep] called as opening passes
 *   'sqlReady' (sql.js compiled), 'read' and 'imageOpened' (Storage.open), for start-up timing
 * @param {(step: string) => void} [options.onSnapshotStep] 'file' only: called at
 *   each step of writing a snapshot (crash tests kill the process there)
 * @returns {Promise<{storage: object, stats: () => object, commitWaitMs: () => number, exportSnapshot: (options?: {select?: string}) => Promise<{image: Uint8Array, seq: number, rows: unknown[][]}>, durableState: Function, close: () => Promise<void>}>}
 *   commitWaitMs: the ms commits have waited for durability so far (stats().commitWaitMs, without stats()' reads);
 *   exportSnapshot: a copy of the image as of one committed transaction (Storage.exportSnapshot);
 *   durableState: what is durable, read without holding the server (Storage.durableState), for backups
 */
export async function createStorage (options = {}) {
  // sql.js compiles while the persistence reads: neither waits for the other.
  const SQL = loadSqlJs(options.initSqlJs ?? {})
  SQL.then(() => options.onOpenStep?.('sqlReady'), () => {}) // a failure is reported by Storage.open, or lost with a persistence that failed
  const persistence = await choosePersistence(options)
  if (options.readAfter) {
    persistence.open?.()
    try {
      await options.readAfter
    } catch (err) {
      await persistence.close()
      throw err
    }
  }
  const inMemory = (options.persistence ?? 'memory') === 'memory'
  const db = await Storage.open(SQL, persistence, {
    // Nothing to compact in memory: never export.
    snapshotPolicy: inMemory ? null : options.snapshotPolicy,
    openSnapshotDelayMs: options.openSnapshotDelayMs,
    snapshotSliceMs: options.snapshotSliceMs,
    onOpenStep: options.onOpenStep
  })
  return {
    storage: bridgeShape(db),
    stats: () => db.stats(),
    commitWaitMs: () => db.counters.commitWaitMs,
    exportSnapshot: (options) => db.exportSnapshot(options),
    durableState: (options) => db.durableState(options),
    close: () => db.close()
  }
}

/**
 * Makes a database image, and the journal records that follow it, the whole
 * durable state of an EMPTY store (an import from a backup): the next
 * createStorage with the same options opens the image and replays the
 * records. Refuses a store that holds a snapshot or journal, and records that
 * are torn or do not follow each other.
 * @param {object} options as for createStorage ('indexeddb' or 'file')
 * @param {Uint8Array} image a SQLite database image (empty: none, the records build it all)
 * @param {Uint8Array} [journal] records as journal.js encodes them, one after another
 */
export async function restoreSnapshot (options, image, journal = new Uint8Array(0)) {
  const { records, torn } = decodeRecords(journal)
  const first = records.length > 0 ? records[0].seq : 1
  if (torn || records.some((r, i) => r.seq !== first + i) || (image.length === 0 && first !== 1)) {
    throw new StorageCorruptError('the journal to restore is damaged or does not follow its snapshot')
  }
  const persistence = await choosePersistence(options)
  try {
    const state = await persistence.load()
    if (state.snapshot !== null || state.records.length > 0) {
      throw new StorageError('cannot restore a snapshot over a store that holds data')
    }
    if (image.length > 0) await persistence.snapshot(first - 1, image)
    let at = 0
    for (const r of records) {
      await persistence.append(r.seq, journal.subarray(at, at + r.bytes))
      at += r.bytes
    }
  } finally {
    await persistence.close()
  }
}

async function choosePersistence (options) {
  switch (options.persistence ?? 'memory') {
    case 'memory':
      return {
        load: async () => ({ snapshot: null, lastSeq: 0, records: [] }),
        append: async () => {},
        snapshot: async () => {},
        close: async () => {}
      }
    case 'indexeddb': {
      const { indexedDBPersistence } = await import('./indexeddb-persistence.js')
      return indexedDBPersistence({ ...options, chunkBytes: options.snapshotChunkBytes })
    }
    case 'file': {
      // Node only: keep bundlers from following this import into node:fs.
      const { filePersistence } = await import(/* webpackIgnore: true */ './file-persistence.js')
      return filePersistence({ ...options, chunkBytes: options.snapshotChunkBytes })
    }
    default:
      throw new TypeError(`unknown persistence ${options.persistence}`)
  }
}

/**
 * hearthStorage called as Go calls it, with params and results as whole
 * byte arrays (codec.js's encodings): run, query and exec answer a
 * Uint8Array or {name, message}; the other methods are the storage's own.
 * For JS tests and benchmarks.
 * @param {object} storage the hearthStorage shape
 */
export function withBytes (storage) {
  const put = (params) => {
    if (params == null) return -1
    storage.paramsBuffer(params.length).set(params)
    return params.length
  }
  const take = (length) => typeof length === 'number' ? storage.resultBuffer().slice(0, length) : length
  return {
    ...storage,
    run: (handle, params) => take(storage.run(handle, put(params))),
    query: (sql, params) => take(storage.query(sql, put(params))),
    exec: (sql) => take(storage.exec(sql))
  }
}

/**
 * The object Go sees as hearthStorage. Synchronous methods never throw: a
 * failure is returned as a plain {name, message}; commit's promise rejects
 * with the named Error itself. Params and results cross in two buffers that
 * outlive the calls (go/bridge/storage_js.go says why): run and query read
 * their params from the start of `params`, and every result is copied to the
 * start of `result` and answered by its length. `result` is replaced only by
 * a larger one, in the call whose result did not fit.
 */
function bridgeShape (db) {
  const guard = fn => (...args) => {
    try {
      return fn(...args)
    } catch (err) {
      return errorShape(err)
    }
  }
  const atLeast = (buffer, size) => size > buffer.length ? new Uint8Array(Math.max(size, 2 * buffer.length)) : buffer
  let params = new Uint8Array(4096)
  let result = new Uint8Array(16384)
  const paramsOf = length => length >= 0 ? params.subarray(0, length) : null
  const answer = bytes => {
    result = atLeast(result, bytes.length)
    result.set(bytes)
    return bytes.length
  }
  return Object.freeze({
    version: STORAGE_VERSION,
    prepare: guard(sql => db.prepare(sql)),
    paramsBuffer: guard(size => {
      params = atLeast(params, size)
      return params
    }),
    resultBuffer: () => result,
    run: guard((handle, paramsLength) => answer(db.run(handle, paramsOf(paramsLength)))),
    query: guard((sql, paramsLength) => answer(db.query(sql, paramsOf(paramsLength)))),
    exec: guard(sql => answer(db.exec(sql))),
    finalize: guard(handle => { db.finalize(handle) }),
    begin: guard(() => { db.begin() }),
    rollback: guard(() => { db.rollback() }),
    commit: () => db.commit(),
    stats: () => db.stats()
  })
}
