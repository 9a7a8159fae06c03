/**
 * Durable storage in IndexedDB, three object stores:
 *
 *   snapshot  key 'manifest': the snapshot's manifest (snapshot.js); the
 *             database as of sequence S is the chunks it names. Key 'db':
 *             the whole-image snapshot of earlier versions, read when there
 *             is no manifest and deleted by the next snapshot.
 *   chunks    key i: chunk i of the image
 *   journal   one record per committed transaction, keyed by its sequence
 *
 * Each append is its own readwrite transaction with durability 'strict' (the
 * browser flushes before reporting completion; browsers without the hint
 * ignore it), so it resolves only once durable, and IndexedDB makes it
 * atomic: no torn records here, though checksums are still verified.
 *
 * A snapshot puts the chunks that changed, deletes chunks past the new end
 * and puts the new manifest in ONE transaction: IndexedDB applies all of it
 * or none, so the manifest and its chunks always agree and chunks can be
 * replaced in place. The records it covers (keys ≤ S) are deleted in a second
 * transaction: a crash between them leaves records that replay skips.
 */

import { decodeRecord } from './journal.js'
import { checkAllPlaced, decodeManifest, decodeWholeSnapshot, DEFAULT_CHUNK_BYTES, durableSnapshot, encodeManifest, placeChunk, planSnapshot, written } from './snapshot.js'
import { StorageCorruptError } from './errors.js'

const SNAPSHOT = 'snapshot'
const CHUNKS = 'chunks'
const JOURNAL = 'journal'
const MANIFEST_KEY = 'manifest'
const WHOLE_SNAPSHOT_KEY = 'db'
/** 3: chunked snapshots (store `chunks`); 2: whole-image snapshot and journal; 1: a bare export. */
const VERSION = 3

/**
 * @param {object} options
 * @param {string} [options.name='hearth'] the IndexedDB database
 * @param {IDBFactory} [options.indexedDB]
 * @param {typeof IDBKeyRange} [options.IDBKeyRange]
 * @param {number} [options.chunkBytes] snapshot chunk size (snapshot.js)
 */
export function indexedDBPersistence ({ name = 'hearth', indexedDB = globalThis.indexedDB, IDBKeyRange = globalThis.IDBKeyRange, chunkBytes = DEFAULT_CHUNK_BYTES }) {
  if (!indexedDB || !IDBKeyRange) {
    throw new TypeError('IndexedDB persistence needs indexedDB and IDBKeyRange (options or globalThis)')
  }
  const keyRange = IDBKeyRange
  let db = null
  /** the manifest now durable, or null (no snapshot yet, or a whole-image one) */
  let manifest = null

  async function loadSnapshot (tx) {
    const snapshots = tx.objectStore(SNAPSHOT)
    const stored = await request(snapshots.get(MANIFEST_KEY))
    if (stored !== undefined) {
      manifest = decodeManifest(new Uint8Array(stored))
      const m = manifest
      // A cursor hands over one chunk at a time, copied into the image and
      // dropped (getAll would hold every chunk beside the image).
      const image = new Uint8Array(m.length)
      let placed = 0
      if (m.chunks.length > 0) {
        await new Promise((resolve, reject) => {
          const req = tx.objectStore(CHUNKS).openCursor(keyRange.bound(0, m.chunks.length - 1))
          req.onerror = () => reject(req.error)
          req.onsuccess = () => {
            const cursor = req.result
            if (cursor === null) return resolve()
            try {
              if (cursor.key !== placed) throw new StorageCorruptError(`snapshot chunk ${placed} is missing`)
              placeChunk(m, image, placed++, bytesOf(cursor.value))
            } catch (err) {
              return reject(err)
            }
            cursor.continue()
          }
        })
      }
      checkAllPlaced(m, placed)
      return { snapshot: image, lastSeq: m.lastSeq }
    }
    manifest = null
    const whole = await request(snapshots.get(WHOLE_SNAPSHOT_KEY))
    if (whole === undefined) return { snapshot: null, lastSeq: 0 }
    const s = decodeWholeSnapshot(new Uint8Array(whole))
    return { snapshot: s.db, lastSeq: s.lastSeq }
  }

  return {
    chunkBytes,

    async load () {
      db?.close()
      db = await openDatabase(indexedDB, name)
      const tx = db.transaction([SNAPSHOT, CHUNKS, JOURNAL], 'readonly')
      const { snapshot, lastSeq } = await loadSnapshot(tx)
      const values = await request(tx.objectStore(JOURNAL).getAll(keyRange.lowerBound(lastSeq, true)))
      const records = []
      for (const v of values) {
        const r = decodeRecord(new Uint8Array(v))
        if (r === null) break
        records.push(r)
      }
      // snapshotChunkBytes: the chunks the image came in (storage.js then snapshots only changed ones)
      return { snapshot, lastSeq, records, snapshotChunkBytes: manifest?.chunkBytes ?? null }
    },

    /**
     * What is durable up to sequence uptoSeq, read beside a running server (a
     * backup): the snapshot's chunks, each read when asked for, and the stored
     * journal records after it. The caller keeps snapshots from being written
     * until it has read the chunks: a snapshot replaces them in place.
     * @returns {Promise<import('./snapshot.js').DurableState>}
     */
    async durable (uptoSeq) {
      const tx = db.transaction([SNAPSHOT, JOURNAL], 'readonly')
      const snapshots = tx.objectStore(SNAPSHOT)
      const stored = await request(snapshots.get(MANIFEST_KEY))
      const whole = stored === undefined ? await request(snapshots.get(WHOLE_SNAPSHOT_KEY)) : undefined
      const state = durableSnapshot({
        manifest: stored === undefined ? null : new Uint8Array(stored),
        whole: whole === undefined ? null : new Uint8Array(whole),
        readChunk: async (i) => {
          const value = await request(db.transaction(CHUNKS, 'readonly').objectStore(CHUNKS).get(i))
          return value === undefined ? null : bytesOf(value)
        }
      })
      const records = uptoSeq > state.snapshotSeq
        ? await request(tx.objectStore(JOURNAL).getAll(keyRange.bound(state.snapshotSeq, uptoSeq, true, false)))
        : []
      return { ...state, records: records.map(bytesOf) }
    },

    async append (seq, record) {
      const tx = db.transaction(JOURNAL, 'readwrite', { durability: 'strict' })
      tx.objectStore(JOURNAL).put(record, seq)
      await transactionDone(tx)
    },

    /**
     * image: the database as of lastSeq, whole or ImageChunks (snapshot.js),
     * or a promise of it (appends can go on while it is copied).
     * @returns {Promise<{bytesWritten: number, chunksWritten: number, chunks: number}>}
     */
    async snapshot (lastSeq, image) {
      const plan = await planSnapshot(manifest, lastSeq, await image, chunkBytes)
      const encoded = encodeManifest(plan.manifest)
      const put = db.transaction([SNAPSHOT, CHUNKS], 'readwrite', { durability: 'strict' })
      const done = transactionDone(put)
      const chunks = put.objectStore(CHUNKS)
      // One put at a time, each issued when the last succeeds: put() clones
      // its value synchronously, so this spreads that work over many tasks
      // instead of one pause as long as all changed chunks together.
      const putNext = i => {
        if (i === plan.changed.length) return
        const c = plan.changed[i]
        chunks.put(ownBuffer(c.bytes), c.index).onsuccess = () => putNext(i + 1)
      }
      putNext(0)
      chunks.delete(keyRange.lowerBound(plan.manifest.chunks.length))
      put.objectStore(SNAPSHOT).put(encoded, MANIFEST_KEY)
      put.objectStore(SNAPSHOT).delete(WHOLE_SNAPSHOT_KEY)
      await done
      manifest = plan.manifest
      const prune = db.transaction(JOURNAL, 'readwrite', { durability: 'strict' })
      prune.objectStore(JOURNAL).delete(keyRange.upperBound(lastSeq))
      await transactionDone(prune)
      return written(plan, encoded)
    },

    async close () {
      db?.close()
      db = null
    }
  }
}

function openDatabase (indexedDB, name) {
  const req = indexedDB.open(name, VERSION)
  req.onupgradeneeded = (event) => {
    const db = req.result
    if (event.oldVersion === 2) {
      // The whole-image snapshot and the journal stay readable; add the chunks.
      db.createObjectStore(CHUNKS)
      return
    }
    // Version 1 kept a bare whole-database export; start over in the new layout.
    for (const store of [...db.objectStoreNames]) db.deleteObjectStore(store)
    db.createObjectStore(SNAPSHOT)
    db.createObjectStore(CHUNKS)
    db.createObjectStore(JOURNAL)
  }
  return request(req)
}

/**
 * bytes, as a value whose clone holds only them: a view into a larger buffer
 * (a chunk of a whole image) is cloned with all of that buffer, so it is
 * copied out first; a chunk copied from the file already is its own buffer.
 */
function ownBuffer (bytes) {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice()
}

/** A stored Uint8Array comes back as one; older values may be ArrayBuffers. */
function bytesOf (value) {
  return ArrayBuffer.isView(value) ? value : new Uint8Array(value)
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
