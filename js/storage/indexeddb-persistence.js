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
/** Snapshot chunks read per request at open (4 MiB of 256 KiB chunks): see loadDurable. */
const CHUNKS_PER_READ = 16
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
  /** a connection opened ahead of load (open()), until load takes it */
  let opening = null
  /** the manifest now durable, or null (no snapshot yet, or a whole-image one) */
  let manifest = null
  /** the journal transaction prepareAppend opened for the next append, or null */
  let ahead = null

  /**
   * The snapshot and the journal after it, read in one transaction. Every
   * answer waits for the worker's thread, which start-up keeps busy
   * (compiling, Go starting), so the requests are few and overlap: the
   * journal and the first chunks are asked for as soon as the manifest says
   * where they start, then chunks 16 at a time, each read asked for before
   * the last is placed (a cursor asked once per chunk). At most two reads
   * are held beside the image.
   */
  async function loadDurable (tx) {
    const snapshots = tx.objectStore(SNAPSHOT)
    const chunks = tx.objectStore(CHUNKS)
    const read = (first) => {
      const values = request(chunks.getAll(keyRange.bound(first, first + CHUNKS_PER_READ - 1)))
      values.catch(() => {}) // reported where it is awaited, if it is
      return values
    }
    const stored = await request(snapshots.get(MANIFEST_KEY))
    manifest = stored === undefined ? null : decodeManifest(new Uint8Array(stored))
    const m = manifest
    let next = m !== null && m.chunks.length > 0 ? read(0) : null
    const whole = m === null ? await request(snapshots.get(WHOLE_SNAPSHOT_KEY)) : undefined
    const { snapshot, lastSeq } = m !== null
      ? { snapshot: new Uint8Array(m.length), lastSeq: m.lastSeq }
      : whole === undefined ? { snapshot: null, lastSeq: 0 } : wholeSnapshot(new Uint8Array(whole))
    const journal = request(tx.objectStore(JOURNAL).getAll(keyRange.lowerBound(lastSeq, true)))
    journal.catch(() => {})
    if (m !== null) {
      const count = m.chunks.length
      let placed = 0
      for (let first = 0; first < count; first += CHUNKS_PER_READ) {
        const values = await next
        next = first + CHUNKS_PER_READ < count ? read(first + CHUNKS_PER_READ) : null
        const expected = Math.min(CHUNKS_PER_READ, count - first)
        if (values.length !== expected) {
          throw new StorageCorruptError(`snapshot chunks ${first}–${first + expected - 1}: ${values.length} of ${expected} are stored`)
        }
        for (const value of values) placeChunk(m, snapshot, placed++, bytesOf(value))
      }
      checkAllPlaced(m, placed)
    }
    const records = []
    for (const v of await journal) {
      const r = decodeRecord(new Uint8Array(v))
      if (r === null) break
      records.push(r)
    }
    return { snapshot, lastSeq, records }
  }

  return {
    chunkBytes,

    /**
     * Opens the connection the next load() reads with, ahead of it: opening
     * takes the browser a while at start-up, and can go on while the caller
     * waits to be allowed to read (sw.js's server lock). Opening reads no data.
     */
    open () {
      opening ??= openDatabase(indexedDB, name)
      opening.catch(() => {}) // reported by load, which awaits it
    },

    async load () {
      db?.close()
      const early = opening
      opening = null
      db = await (early ?? openDatabase(indexedDB, name))
      const { snapshot, lastSeq, records } = await loadDurable(db.transaction([SNAPSHOT, CHUNKS, JOURNAL], 'readonly'))
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

    /**
     * Opens the next append's transaction now, as a write transaction
     * begins: the browser sets it up while the writes run, and an append
     * that puts its record in the same task commits ~0.1 ms sooner (README,
     * "where a browser send's time is"). An append in a later task finds it
     * ended (a transaction with no request commits empty at the end of its
     * task) and opens its own, as does one after a rolled-back write's.
     */
    prepareAppend () {
      if (db !== null) ahead = db.transaction(JOURNAL, 'readwrite', { durability: 'strict' })
    },

    async append (seq, record) {
      let tx = ahead
      ahead = null
      if (tx === null || !putIfActive(tx, record, seq)) {
        tx = db.transaction(JOURNAL, 'readwrite', { durability: 'strict' })
        tx.objectStore(JOURNAL).put(record, seq)
      }
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
      opening?.then((unread) => unread.close(), () => {})
      opening = null
    }
  }
}

/** Puts record in the journal through tx; false when tx can no longer take a request (its task is over). */
function putIfActive (tx, record, seq) {
  try {
    tx.objectStore(JOURNAL).put(record, seq)
    return true
  } catch (err) {
    if (err?.name === 'TransactionInactiveError' || err?.name === 'InvalidStateError') return false
    throw err
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

/** The snapshot format before chunks (decodeWholeSnapshot) as loadDurable returns it. */
function wholeSnapshot (bytes) {
  const s = decodeWholeSnapshot(bytes)
  return { snapshot: s.db, lastSeq: s.lastSeq }
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
