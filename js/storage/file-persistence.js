/**
 * Durable storage in files (Node): one snapshot file and numbered journal
 * segments in `dir`:
 *
 *   <name>.snapshot     the database as of some sequence S (journal.js format),
 *                       replaced atomically: temp file, fsync, rename, fsync dir
 *   <name>.journal.<k>  append-only records (journal.js); each append is
 *                       fsynced (fdatasync) before it resolves
 *
 * Crash safety, step by step:
 * - An append that dies half-way leaves a torn record at the end of its
 *   segment. Nothing follows it there: after load, and after any failed
 *   append, appends go to a new segment (k+1), so a torn tail is always the
 *   end of its segment and later segments still replay.
 * - A snapshot is taken at a quiescent point: appends switch to a new
 *   segment at that moment, so segments up to k hold only records ≤ S. The
 *   snapshot is renamed into place, then segments ≤ k are deleted. A crash
 *   before the rename keeps the old snapshot and every segment; after it,
 *   leftover segments hold only records ≤ S, which replay skips.
 */

import { mkdir, open, readFile, readdir, rename, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { decodeRecords, decodeSnapshot, encodeSnapshot } from './journal.js'

export function filePersistence ({ dir, name = 'hearth' }) {
  if (!dir) throw new TypeError('file persistence needs options.dir')
  const snapshotPath = join(dir, `${name}.snapshot`)
  const segmentPrefix = `${name}.journal.`
  const segmentPath = k => join(dir, segmentPrefix + k)
  /** number of the newest segment; appends go to segment+1 when handle is null */
  let segment = 0
  /** the open segment, or null: the next append starts a new one */
  let handle = null

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

  return {
    async load () {
      await rotate()
      await mkdir(dir, { recursive: true })
      let snapshot = null
      let lastSeq = 0
      try {
        const s = decodeSnapshot(new Uint8Array(await readFile(snapshotPath)))
        snapshot = s.db
        lastSeq = s.lastSeq
      } catch (err) {
        if (err.code !== 'ENOENT') throw err
      }
      const records = []
      const ks = await segments()
      for (const k of ks) {
        records.push(...decodeRecords(new Uint8Array(await readFile(segmentPath(k)))).records)
      }
      segment = ks.length ? ks[ks.length - 1] : 0
      return { snapshot, lastSeq, records }
    },

    async append (seq, record) {
      try {
        if (handle === null) {
          segment++
          handle = await open(segmentPath(segment), 'a')
          await syncDirectory(dir) // the new file's name must survive a crash too
        }
        await handle.write(record)
        await handle.datasync()
      } catch (err) {
        await rotate() // never append after a possibly torn record
        throw err
      }
    },

    /** Must be called when no append is in flight; resolves once the old journal is gone. */
    snapshot (lastSeq, db) {
      const covered = segment
      const closing = rotate()
      return (async () => {
        await closing
        await writeFileDurably(snapshotPath, encodeSnapshot(lastSeq, db))
        await syncDirectory(dir)
        for (const k of await segments()) {
          if (k <= covered) await unlink(segmentPath(k))
        }
        await syncDirectory(dir)
      })()
    },

    async close () {
      await rotate()
    }
  }
}

/** Writes bytes to path through a fsynced temporary file and a rename. */
export async function writeFileDurably (path, bytes) {
  const tmp = `${path}.tmp`
  const fh = await open(tmp, 'w')
  try {
    await fh.writeFile(bytes)
    await fh.sync()
  } finally {
    await fh.close()
  }
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
