/**
 * Blobs in IndexedDB: a database of their own (`<name>-media`, one object
 * store `blobs`, key → Uint8Array), apart from js/storage's journal and
 * snapshots, so a picture never passes through the SQL journal, snapshots
 * never copy one, and opening the database reads none.
 *
 * Each put is its own readwrite transaction with durability 'strict' and
 * resolves on `complete`: the bytes are on disk when Go is told. Browsers
 * keep large values out of line (Chromium writes them as files beside the
 * LevelDB), so a blob costs memory only while it is being read or written.
 */
import { request, transactionDone } from '../storage/indexeddb-persistence.js'

const STORE = 'blobs'
const VERSION = 1

/**
 * @param {object} options
 * @param {string} [options.name='hearth'] the database is `${name}-media`
 * @param {IDBFactory} [options.indexedDB]
 * @param {typeof IDBKeyRange} [options.IDBKeyRange] keys(prefix) needs it
 */
export async function indexedDBBlobs ({ name = 'hearth', indexedDB = globalThis.indexedDB, IDBKeyRange = globalThis.IDBKeyRange }) {
  if (!indexedDB) throw new TypeError('IndexedDB blobs need indexedDB (options or globalThis)')
  const open = indexedDB.open(`${name}-media`, VERSION)
  open.onupgradeneeded = () => open.result.createObjectStore(STORE)
  const db = await request(open)
  const run = async (mode, fn) => {
    const tx = db.transaction(STORE, mode, mode === 'readwrite' ? { durability: 'strict' } : undefined)
    const done = transactionDone(tx)
    const result = request(fn(tx.objectStore(STORE)))
    await done
    return result
  }
  return {
    async put (key, bytes) { await run('readwrite', s => s.put(bytes, key)) },
    async get (key) {
      const value = await run('readonly', s => s.get(key))
      if (value === undefined) return null
      return ArrayBuffer.isView(value) ? value : new Uint8Array(value)
    },
    async delete (key) { await run('readwrite', s => s.delete(key)) },
    async keys (prefix = '') {
      // Keys are ASCII: every key under prefix sorts below prefix + '\x7f'.
      return run('readonly', s => s.getAllKeys(prefix === '' ? undefined : IDBKeyRange.bound(prefix, prefix + '\x7f')))
    },
    async close () { db.close() }
  }
}
