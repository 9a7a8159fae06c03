/**
 * Durable storage in IndexedDB: object store `snapshot` holds the database
 * as of sequence S (key 'db', journal.js snapshot format) and store `journal`
 * holds one record per committed transaction, keyed by its sequence.
 *
 * Each append is its own readwrite transaction with durability 'strict' (the
 * browser flushes before reporting completion; browsers without the hint
 * ignore it), so it resolves only once durable, and IndexedDB makes it
 * atomic: no torn records here, though checksums are still verified.
 * A snapshot is written in one transaction and the records it covers
 * (keys ≤ S) are deleted in a second: a crash between them leaves records
 * that replay skips.
 */

import { decodeRecord, decodeSnapshot, encodeSnapshot } from './journal.js'

const SNAPSHOT = 'snapshot'
const JOURNAL = 'journal'
const SNAPSHOT_KEY = 'db'
const VERSION = 2

export function indexedDBPersistence ({ name = 'hearth', indexedDB = globalThis.indexedDB, IDBKeyRange = globalThis.IDBKeyRange }) {
  if (!indexedDB || !IDBKeyRange) {
    throw new TypeError('IndexedDB persistence needs indexedDB and IDBKeyRange (options or globalThis)')
  }
  const keyRange = IDBKeyRange
  let db = null

  return {
    async load () {
      db?.close()
      db = await openDatabase(indexedDB, name)
      const tx = db.transaction([SNAPSHOT, JOURNAL], 'readonly')
      const stored = await request(tx.objectStore(SNAPSHOT).get(SNAPSHOT_KEY))
      const { db: snapshot, lastSeq } = stored === undefined ? { db: null, lastSeq: 0 } : decodeSnapshot(new Uint8Array(stored))
      const values = await request(tx.objectStore(JOURNAL).getAll(keyRange.lowerBound(lastSeq, true)))
      const records = []
      for (const v of values) {
        const r = decodeRecord(new Uint8Array(v))
        if (r === null) break
        records.push(r)
      }
      return { snapshot, lastSeq, records }
    },

    async append (seq, record) {
      const tx = db.transaction(JOURNAL, 'readwrite', { durability: 'strict' })
      tx.objectStore(JOURNAL).put(record, seq)
      await transactionDone(tx)
    },

    async snapshot (lastSeq, bytes) {
      const put = db.transaction(SNAPSHOT, 'readwrite', { durability: 'strict' })
      put.objectStore(SNAPSHOT).put(encodeSnapshot(lastSeq, bytes), SNAPSHOT_KEY)
      await transactionDone(put)
      const prune = db.transaction(JOURNAL, 'readwrite', { durability: 'strict' })
      prune.objectStore(JOURNAL).delete(keyRange.upperBound(lastSeq))
      await transactionDone(prune)
    },

    async close () {
      db?.close()
      db = null
    }
  }
}

function openDatabase (indexedDB, name) {
  const req = indexedDB.open(name, VERSION)
  req.onupgradeneeded = () => {
    const db = req.result
    // Version 1 kept a bare whole-database export; start over in the new layout.
    for (const store of [...db.objectStoreNames]) db.deleteObjectStore(store)
    db.createObjectStore(SNAPSHOT)
    db.createObjectStore(JOURNAL)
  }
  return request(req)
}

export function request (req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result)
    req.onerror = () => reject(req.error)
  })
}

export function transactionDone (tx) {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve()
    tx.onerror = () => reject(tx.error)
    tx.onabort = () => reject(tx.error ?? new Error('IndexedDB transaction aborted'))
  })
}
