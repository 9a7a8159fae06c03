/**
 * Whole-database snapshots in IndexedDB. A save resolves when its readwrite
 * transaction completes with durability 'strict' (the browser flushes to disk
 * before reporting completion; browsers without the hint ignore it).
 */

const STORE = 'snapshot'
const KEY = 'db'

export function indexedDBPersistence ({ name = 'hearth', indexedDB = globalThis.indexedDB }) {
  if (!indexedDB) throw new TypeError('IndexedDB persistence needs indexedDB (options.indexedDB or globalThis.indexedDB)')
  let db = null
  return {
    async load () {
      db = await openDatabase(indexedDB, name)
      const value = await request(db.transaction(STORE, 'readonly').objectStore(STORE).get(KEY))
      return value === undefined ? null : new Uint8Array(value)
    },
    async save (bytes) {
      const tx = db.transaction(STORE, 'readwrite', { durability: 'strict' })
      tx.objectStore(STORE).put(bytes, KEY)
      await transactionDone(tx)
    },
    async close () {
      db?.close()
      db = null
    }
  }
}

function openDatabase (indexedDB, name) {
  const req = indexedDB.open(name, 1)
  req.onupgradeneeded = () => { req.result.createObjectStore(STORE) }
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
