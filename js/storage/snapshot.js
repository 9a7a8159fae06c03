/**
 * The snapshot format shared by both persistences: the database image (what
 * sql.js's db.export() returns) cut into fixed-size chunks, and a small
 * manifest naming them.
 *
 *   manifest = "HRTHMAN1", u32 CRC-32 of body, body
 *   body     = u64 lastSeq, u32 generation, u32 chunkBytes, u64 image length,
 *              u32 count, count × (u32 generation, 32-byte SHA-256 of the chunk)
 *
 * Chunk i holds image bytes [i × chunkBytes, (i + 1) × chunkBytes); the last
 * one may be short. `generation` counts snapshots; each chunk records the
 * generation that last wrote it, so a persistence can keep every version of a
 * chunk under its own name until the manifest that replaces it is durable
 * (file-persistence.js) or ignore it when it replaces chunks atomically
 * (indexeddb-persistence.js).
 *
 * Why chunks: from one snapshot to the next only the pages the journal's
 * writes touched change. storage.js hands over only the chunks written since
 * (ImageChunks, from sqljs.js's watch; a whole image where writes are not
 * watched), and of those only the ones whose hash differs are written, so a
 * snapshot's I/O (and IndexedDB's structured clone of the values put) stays
 * proportional to what changed. SHA-256
 * (crypto.subtle: native, and off the main thread in browsers and Node) makes
 * "same hash, different bytes" impossible in practice; a cheaper 32-bit hash
 * would, over thousands of chunks and snapshots, eventually skip a chunk that
 * did change, and that would corrupt the database silently.
 *
 * Hashes are not verified when loading: a chunk is durable before any
 * manifest names it (see the persistences), and checking them would cost
 * start-up ~1 ms per MB. Lengths are checked.
 */

import { crc32 } from './journal.js'
import { StorageCorruptError, StorageError } from './errors.js'

/**
 * Default chunk size. Smaller chunks rewrite less per snapshot (an index with
 * random keys, like events.event_id, changes a page here and there all over
 * itself); larger ones mean fewer files or IndexedDB records to read at open.
 * 256 KiB: a 280 MB database (100,000 events at Hearth's 2.8 KB each) is
 * ~1,100 chunks, and reading 1,100 files costs a few ms more than one.
 */
export const DEFAULT_CHUNK_BYTES = 256 * 1024
const HASH_BYTES = 32
/** Chunks hashed at once: each digest holds a copy of its chunk until done. */
const HASH_CONCURRENCY = 8

const MAGIC = new TextEncoder().encode('HRTHMAN1')
const FIXED = 8 + 4 + 8 + 4 + 4 + 8 + 4

/**
 * @typedef {{generation: number, hash: Uint8Array}} ChunkEntry
 * @typedef {{lastSeq: number, generation: number, chunkBytes: number, length: number, chunks: ChunkEntry[]}} Manifest
 */

/**
 * What a persistence holds up to some sequence, for reading beside a running
 * server (persistence.durable(uptoSeq), Storage.durableState).
 * @typedef {object} DurableState
 * @property {number} snapshotSeq the sequence the snapshot is of (0: no snapshot)
 * @property {number} imageBytes the snapshot's database image length (0: no snapshot)
 * @property {() => AsyncIterable<Uint8Array>} chunks the image in order, a piece at a time
 * @property {Uint8Array[]} records the journal records after the snapshot, as stored (journal.js)
 */

/**
 * The snapshot part of a DurableState: the manifest's chunks, each read with
 * readChunk(i) (its bytes, or null when missing) and checked for its length;
 * else the older whole image; else no snapshot.
 * @param {{manifest?: Uint8Array|null, whole?: Uint8Array|null, readChunk: (i: number, generation: number) => Promise<Uint8Array|null>}} stored
 * @returns {Omit<DurableState, 'records'>}
 */
export function durableSnapshot ({ manifest, whole, readChunk }) {
  if (manifest != null) {
    const m = decodeManifest(manifest)
    return {
      snapshotSeq: m.lastSeq,
      imageBytes: m.length,
      chunks: async function * () {
        for (let i = 0; i < m.chunks.length; i++) {
          const bytes = await readChunk(i, m.chunks[i].generation)
          if (bytes == null) throw new StorageCorruptError(`snapshot chunk ${i} is missing`)
          if (bytes.length !== chunkLength(m, i)) throw new StorageCorruptError(`snapshot chunk ${i} has ${bytes.length} bytes, not ${chunkLength(m, i)}`)
          yield bytes
        }
      }
    }
  }
  if (whole != null) {
    const s = decodeWholeSnapshot(whole)
    return { snapshotSeq: s.lastSeq, imageBytes: s.db.length, chunks: async function * () { yield s.db } }
  }
  return { snapshotSeq: 0, imageBytes: 0, chunks: async function * () {} }
}

/** @param {Manifest} m */
export function encodeManifest (m) {
  const out = new Uint8Array(FIXED + m.chunks.length * (4 + HASH_BYTES))
  const view = new DataView(out.buffer)
  out.set(MAGIC, 0)
  let o = 12
  view.setBigUint64(o, BigInt(m.lastSeq), true); o += 8
  view.setUint32(o, m.generation, true); o += 4
  view.setUint32(o, m.chunkBytes, true); o += 4
  view.setBigUint64(o, BigInt(m.length), true); o += 8
  view.setUint32(o, m.chunks.length, true); o += 4
  for (const c of m.chunks) {
    view.setUint32(o, c.generation, true); o += 4
    out.set(c.hash, o); o += HASH_BYTES
  }
  view.setUint32(8, crc32(out.subarray(12)), true)
  return out
}

/** @returns {Manifest} */
export function decodeManifest (bytes) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const corrupt = () => new StorageCorruptError('the snapshot manifest is corrupt')
  if (bytes.length < FIXED || !MAGIC.every((b, i) => bytes[i] === b)) throw corrupt()
  if (crc32(bytes.subarray(12)) !== view.getUint32(8, true)) throw corrupt()
  let o = 12
  const lastSeq = Number(view.getBigUint64(o, true)); o += 8
  const generation = view.getUint32(o, true); o += 4
  const chunkBytes = view.getUint32(o, true); o += 4
  const length = Number(view.getBigUint64(o, true)); o += 8
  const count = view.getUint32(o, true); o += 4
  if (bytes.length !== FIXED + count * (4 + HASH_BYTES) || count !== Math.ceil(length / chunkBytes)) throw corrupt()
  const chunks = []
  for (let i = 0; i < count; i++) {
    const gen = view.getUint32(o, true); o += 4
    chunks.push({ generation: gen, hash: bytes.slice(o, o + HASH_BYTES) }); o += HASH_BYTES
  }
  return { lastSeq, generation, chunkBytes, length, chunks }
}

/**
 * Part of a database image, as storage.js copies it from the watched file
 * (sqljs.js): the chunks written since the last snapshot, or all of them
 * (complete). The chunks left out are as the durable manifest has them.
 * @typedef {{length: number, chunkBytes: number, complete: boolean, chunks: Array<{index: number, bytes: Uint8Array}>}} ImageChunks
 */

/**
 * Hashes the chunks given (all of image's, cut from it when it is a whole
 * image) and compares them with the previous snapshot's manifest; chunks not
 * given are carried over from it. The changed chunks' bytes are those given
 * (views into image for a whole one).
 * @param {Manifest|null} previous the manifest now durable, or null
 * @param {number} lastSeq the sequence the image is as of
 * @param {Uint8Array|ImageChunks} image
 * @param {number} chunkBytes
 * @returns {Promise<{manifest: Manifest, changed: Array<{index: number, bytes: Uint8Array}>}>}
 */
export async function planSnapshot (previous, lastSeq, image, chunkBytes) {
  const source = ArrayBuffer.isView(image) ? wholeImageChunks(image, chunkBytes) : image
  if (source.chunkBytes !== chunkBytes) throw new StorageError(`the snapshot's chunks are of ${source.chunkBytes} bytes, not ${chunkBytes}`)
  const generation = (previous?.generation ?? 0) + 1
  const length = source.length
  const count = Math.ceil(length / chunkBytes)
  const comparable = previous !== null && previous.chunkBytes === chunkBytes
  for (const { index, bytes } of source.chunks) {
    if (index >= count || bytes.length !== chunkLength(source, index)) throw new StorageError(`snapshot chunk ${index} has ${bytes.length} bytes, not ${chunkLength(source, index)}`)
  }
  const hashes = await hashAll(source.chunks.map(c => c.bytes))
  const given = new Map(source.chunks.map((c, k) => [c.index, { bytes: c.bytes, hash: hashes[k] }]))
  const chunks = []
  const changed = []
  for (let i = 0; i < count; i++) {
    const before = comparable ? previous.chunks[i] : undefined
    const sameLength = before !== undefined && chunkLength(previous, i) === chunkLength(source, i)
    const now = given.get(i)
    if (now === undefined) {
      // Not written since the durable snapshot: it must hold the chunk as it is.
      if (source.complete || !sameLength) throw new StorageError(`snapshot chunk ${i} is neither given nor in the durable manifest`)
      chunks.push(before)
    } else if (sameLength && sameBytes(before.hash, now.hash)) {
      chunks.push(before)
    } else {
      chunks.push({ generation, hash: now.hash })
      changed.push({ index: i, bytes: now.bytes })
    }
  }
  return { manifest: { lastSeq, generation, chunkBytes, length, chunks }, changed }
}

/** A whole image as ImageChunks: every chunk, each a view into it. */
export function wholeImageChunks (image, chunkBytes) {
  const chunks = []
  for (let i = 0; i * chunkBytes < image.length; i++) {
    chunks.push({ index: i, bytes: image.subarray(i * chunkBytes, Math.min(image.length, (i + 1) * chunkBytes)) })
  }
  return { length: image.length, chunkBytes, complete: true, chunks }
}

/**
 * What a persistence reports once it has written a plan: stats() counts it.
 * @returns {{bytesWritten: number, chunksWritten: number, chunks: number}}
 */
export function written (plan, encodedManifest) {
  const chunkBytes = plan.changed.reduce((n, c) => n + c.bytes.length, 0)
  return { bytesWritten: encodedManifest.length + chunkBytes, chunksWritten: plan.changed.length, chunks: plan.manifest.chunks.length }
}

/** The length chunk i of m must have. */
export function chunkLength (m, i) {
  return Math.min(m.chunkBytes, m.length - i * m.chunkBytes)
}

/**
 * Copies chunk i of m into image (length m.length), checking its length. The
 * persistences read chunks one at a time into one image this way, so a load
 * never holds every chunk and the joined image at once: a worker's memory
 * keeps the peak of its start-up (issue 18).
 */
export function placeChunk (m, image, i, bytes) {
  if (i >= m.chunks.length) throw new StorageCorruptError(`snapshot chunk ${i} is not in the manifest (${m.chunks.length} chunks)`)
  if (bytes.length !== chunkLength(m, i)) throw new StorageCorruptError(`snapshot chunk ${i} has ${bytes.length} bytes, not ${chunkLength(m, i)}`)
  image.set(bytes, i * m.chunkBytes)
}

/** Throws unless every chunk of m was placed (placed: how many, each once). */
export function checkAllPlaced (m, placed) {
  if (placed !== m.chunks.length) {
    throw new StorageCorruptError(`the snapshot has ${placed} of its ${m.chunks.length} chunks`)
  }
}

/**
 * The snapshot format before chunks (one value holding the whole image), read
 * so that existing stores open; the next snapshot replaces it.
 *   snapshot = "HRTHSNAP", u64 lastSeq, u32 CRC-32 of db, db bytes
 * @returns {{lastSeq: number, db: Uint8Array}}
 */
export function decodeWholeSnapshot (bytes) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const magic = new TextEncoder().encode('HRTHSNAP')
  const magicOk = bytes.length >= 20 && magic.every((b, i) => bytes[i] === b)
  const db = bytes.subarray(20)
  if (!magicOk || crc32(db) !== view.getUint32(16, true)) throw new StorageCorruptError('the snapshot is corrupt')
  return { lastSeq: Number(view.getBigUint64(8, true)), db }
}

async function hashAll (pieces) {
  const hashes = new Array(pieces.length)
  let next = 0
  const worker = async () => {
    while (next < pieces.length) {
      const i = next++
      hashes[i] = new Uint8Array(await globalThis.crypto.subtle.digest('SHA-256', pieces[i]))
    }
  }
  await Promise.all(Array.from({ length: Math.min(HASH_CONCURRENCY, pieces.length) }, worker))
  return hashes
}

function sameBytes (a, b) {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}
