/**
 * Durable storage in files (Node): a snapshot (a manifest and its chunks,
 * snapshot.js) and numbered journal segments in `dir`:
 *
 *   <name>.manifest       the snapshot's manifest: the database as of some
 *                         sequence S is the chunks it names; replaced
 *                         atomically (temp file, fsync, rename, fsync dir)
 *   <name>.chunk.<i>.<g>  chunk i as snapshot generation g wrote it; never
 *                         rewritten once a manifest names it
 *   <name>.journal.<k>    append-only records (journal.js); each append is
 *                         fsynced (fdatasync) before it resolves
 *   <name>.snapshot       the whole-image snapshot of earlier versions: read
 *                         when there is no manifest, deleted by the next snapshot
 *
 * Crash safety, step by step:
 * - An append that dies half-way leaves a torn record at the end of its
 *   segment. Nothing follows it there: after load, and after any failed
 *   append, appends go to a new segment (k+1), so a torn tail is always the
 *   end of its segment and later segments still replay.
 * - An append that fails after its record was written (the sync failed) is
 *   undone: the segment is cut back to its last durable record and synced,
 *   so a commit reported as failed never replays, neither in the reload that
 *   follows nor after a restart. If cutting fails too, the record may or may
 *   not survive: the append rejects with StorageOutcomeUnknownError and the
 *   storage closes (storage.js).
 * - A snapshot is taken at a quiescent point: appends switch to a new
 *   segment at that moment, so segments up to k hold only records ≤ S.
 *   The chunks that changed are written as new files of generation g (one
 *   more than the manifest's), each fsynced, then the directory; only then is
 *   the new manifest renamed into place. Then chunk files the manifest does
 *   not name, the old whole-image snapshot and segments ≤ k are deleted.
 *   A crash before the rename keeps the old manifest, whose chunk files are
 *   all still there (generation g files are new names, and a retry of g
 *   after a crash only overwrites files no manifest names), and every
 *   segment; after it, the new manifest's chunks are durable and leftover
 *   files are either unnamed chunks (ignored, deleted by the next snapshot)
 *   or segments holding only records ≤ S, which replay skips.
 */

import { mkdir, open, readFile, readdir, rename, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { StorageCorruptError, StorageOutcomeUnknownError } from './errors.js'
import { decodeRecords } from './journal.js'
import { chunkLength, decodeManifest, decodeWholeSnapshot, DEFAULT_CHUNK_BYTES, durableSnapshot, encodeManifest, planSnapshot, written } from './snapshot.js'

/** Files read or written at once: enough to keep the thread pool busy. */
const IO_CONCURRENCY = 8

/**
 * @param {object} options
 * @param {string} options.dir
 * @param {string} [options.name='hearth']
 * @param {number} [options.chunkBytes] snapshot chunk size (snapshot.js)
 * @param {(step: string) => void|Promise<void>} [options.onSnapshotStep] called
 *   as a snapshot passes each step ('chunk-written' after each chunk file,
 *   'chunks-durable', 'manifest-durable', 'cleaned'): tests kill the process there
 */
export function filePersistence ({ dir, name = 'hearth', chunkBytes = DEFAULT_CHUNK_BYTES, onSnapshotStep = () => {} }) {
  if (!dir) throw new TypeError('file persistence needs options.dir')
  const manifestPath = join(dir, `${name}.manifest`)
  const wholeSnapshotPath = join(dir, `${name}.snapshot`)
  const segmentPrefix = `${name}.journal.`
  const chunkPrefix = `${name}.chunk.`
  const segmentPath = k => join(dir, segmentPrefix + k)
  const chunkPath = (i, g) => join(dir, `${chunkPrefix}${i}.${g}`)
  /** number of the newest segment; appends go to segment+1 when handle is null */
  let segment = 0
  /** the open segment, or null: the next append starts a new one */
  let handle = null
  /** bytes of the open segment holding records whose append succeeded */
  let durableLength = 0
  /** the manifest now durable, or null (no snapshot yet, or a whole-image one) */
  let manifest = null

  async function segments () {
    const names = await readdir(dir)
    return names
      .filter(n => n.startsWith(segmentPrefix) && /^\d+$/.test(n.slice(segmentPrefix.length)))
      .map(n => Number(n.slice(segmentPrefix.length)))
      .sort((a, b) => a - b)
  }

  function rotate () {
    const old = handle
    handle = null
    return old?.close().catch(() => {})
  }

  /** The snapshot as {snapshot, lastSeq}: manifest and chunks, else the older whole image. */
  async function loadSnapshot () {
    const bytes = await readIfExists(manifestPath)
    if (bytes !== null) {
      manifest = decodeManifest(bytes)
      const m = manifest
      // Each chunk is read straight into the image (no chunk copies held alongside it).
      const image = new Uint8Array(m.length)
      await mapLimited(m.chunks, async (c, i) => {
        const fh = await open(chunkPath(i, c.generation), 'r').catch(err => {
          throw err.code === 'ENOENT' ? new StorageCorruptError(`snapshot chunk ${i} is missing`, { cause: err }) : err
        })
        try {
          const { size } = await fh.stat()
          if (size !== chunkLength(m, i)) throw new StorageCorruptError(`snapshot chunk ${i} has ${size} bytes, not ${chunkLength(m, i)}`)
          for (let at = 0; at < size;) {
            const { bytesRead } = await fh.read(image, i * m.chunkBytes + at, size - at, at)
            if (bytesRead === 0) throw new StorageCorruptError(`snapshot chunk ${i} ended early`)
            at += bytesRead
          }
        } finally {
          await fh.close()
        }
      })
      return { snapshot: image, lastSeq: m.lastSeq }
    }
    manifest = null
    const whole = await readIfExists(wholeSnapshotPath)
    if (whole === null) return { snapshot: null, lastSeq: 0 }
    const s = decodeWholeSnapshot(whole)
    return { snapshot: s.db, lastSeq: s.lastSeq }
  }

  /** Deletes what the durable manifest no longer needs: other chunk files, the whole image, segments ≤ covered. */
  async function cleanUp (covered) {
    const keep = new Set(manifest.chunks.map((c, i) => `${chunkPrefix}${i}.${c.generation}`))
    const names = await readdir(dir)
    const stale = names.filter(n => (n.startsWith(chunkPrefix) && !keep.has(n)) || n === `${name}.snapshot`)
    for (const k of await segments()) if (k <= covered) stale.push(segmentPrefix + k)
    await mapLimited(stale, n => unlink(join(dir, n)))
    await syncDirectory(dir)
  }

  /**
   * Cuts the open segment back to its last successful append, so a record
   * whose append failed cannot replay, then moves on to a new segment (never
   * append after a possibly torn record).
   * @throws {StorageOutcomeUnknownError} when the cut cannot be made durable
   */
  async function undoAppend (cause) {
    if (handle === null) return // the segment never opened: nothing written
    try {
      await handle.truncate(durableLength)
      await handle.datasync()
    } catch (err) {
      throw new StorageOutcomeUnknownError(
        `a journal append failed (${cause?.message ?? cause}) and its record could not be removed (${err?.message ?? err})`,
        { cause: err })
    } finally {
      await rotate()
    }
  }

  return {
    chunkBytes,

    async load () {
      await rotate()
      await mkdir(dir, { recursive: true })
      const { snapshot, lastSeq } = await loadSnapshot()
      const records = []
      const ks = await segments()
      for (const k of ks) {
        records.push(...decodeRecords(new Uint8Array(await readFile(segmentPath(k)))).records)
      }
      segment = ks.length ? ks[ks.length - 1] : 0
      // snapshotChunkBytes: the chunks the image came in (storage.js then snapshots only changed ones)
      return { snapshot, lastSeq, records, snapshotChunkBytes: manifest?.chunkBytes ?? null }
    },

    /**
     * What is durable up to sequence uptoSeq, read beside a running server (a
     * backup): the snapshot's chunk files, each read when asked for, and the
     * journal records after the snapshot. The caller keeps snapshots from being
     * written until it has read everything (a snapshot deletes old chunk files
     * and segments).
     * @returns {Promise<import('./snapshot.js').DurableState>}
     */
    async durable (uptoSeq) {
      const bytes = await readIfExists(manifestPath)
      const whole = bytes === null ? await readIfExists(wholeSnapshotPath) : null
      const state = durableSnapshot({ manifest: bytes, whole, readChunk: (i, generation) => readIfExists(chunkPath(i, generation)) })
      const records = []
      for (const k of await segments()) {
        const segmentBytes = new Uint8Array(await readFile(segmentPath(k)))
        let at = 0
        for (const r of decodeRecords(segmentBytes).records) {
          if (r.seq > state.snapshotSeq && r.seq <= uptoSeq) records.push(segmentBytes.subarray(at, at + r.bytes))
          at += r.bytes
        }
      }
      return { ...state, records }
    },

    async append (seq, record) {
      try {
        if (handle === null) {
          segment++
          handle = await open(segmentPath(segment), 'a')
          durableLength = 0
          await syncDirectory(dir) // the new file's name must survive a crash too
        }
        await handle.write(record)
        await handle.datasync()
        durableLength += record.length
      } catch (err) {
        await undoAppend(err)
        throw err
      }
    },

    /**
     * Must be called when no append is in flight and lastSeq is the last
     * record appended: the segments up to here are what it covers. image (a
     * whole image or ImageChunks, snapshot.js) may be a promise: appends can
     * go on while it is copied. Resolves once the old snapshot and journal
     * are gone, with what was written.
     * @returns {Promise<{bytesWritten: number, chunksWritten: number, chunks: number}>}
     */
    snapshot (lastSeq, image) {
      const covered = segment
      const closing = rotate()
      return (async () => {
        await closing
        const plan = await planSnapshot(manifest, lastSeq, await image, chunkBytes)
        await mapLimited(plan.changed, async c => {
          await writeFileSynced(chunkPath(c.index, plan.manifest.generation), c.bytes)
          await onSnapshotStep('chunk-written')
        })
        await syncDirectory(dir)
        await onSnapshotStep('chunks-durable')
        const encoded = encodeManifest(plan.manifest)
        await writeFileDurably(manifestPath, encoded)
        await syncDirectory(dir)
        manifest = plan.manifest
        await onSnapshotStep('manifest-durable')
        await cleanUp(covered)
        await onSnapshotStep('cleaned')
        return written(plan, encoded)
      })()
    },

    async close () {
      await rotate()
    }
  }
}

async function readIfExists (path) {
  try {
    return new Uint8Array(await readFile(path))
  } catch (err) {
    if (err.code === 'ENOENT') return null
    throw err
  }
}

/** fn over items, at most IO_CONCURRENCY at a time; results in order. */
async function mapLimited (items, fn) {
  const out = new Array(items.length)
  let next = 0
  const worker = async () => {
    while (next < items.length) {
      const i = next++
      out[i] = await fn(items[i], i)
    }
  }
  await Promise.all(Array.from({ length: Math.min(IO_CONCURRENCY, items.length) }, worker))
  return out
}

/** Writes bytes to path and fsyncs the file (the caller syncs the directory). */
async function writeFileSynced (path, bytes) {
  const fh = await open(path, 'w')
  try {
    await fh.writeFile(bytes)
    await fh.sync()
  } finally {
    await fh.close()
  }
}

/** Writes bytes to path through a fsynced temporary file and a rename. */
export async function writeFileDurably (path, bytes) {
  const tmp = `${path}.tmp`
  await writeFileSynced(tmp, bytes)
  await rename(tmp, path)
}

export async function syncDirectory (dir) {
  const fh = await open(dir, 'r')
  try {
    await fh.sync()
  } finally {
    await fh.close()
  }
}
