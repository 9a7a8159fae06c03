/**
 * Whole-database snapshots in one file (Node only). A save is durable when
 * it resolves: the bytes go to a temporary file that is fsynced, renamed over
 * the old file, and the directory is fsynced so the rename itself survives a
 * crash. At every moment the file holds either the old or the new snapshot.
 */

import { mkdir, open, readFile, rename } from 'node:fs/promises'
import { join } from 'node:path'

export function filePersistence ({ dir, name = 'hearth' }) {
  if (!dir) throw new TypeError('file persistence needs options.dir')
  const path = join(dir, `${name}.sqlite`)
  return {
    async load () {
      await mkdir(dir, { recursive: true })
      try {
        return new Uint8Array(await readFile(path))
      } catch (err) {
        if (err.code === 'ENOENT') return null
        throw err
      }
    },
    async save (bytes) {
      await writeFileDurably(path, bytes)
      await syncDirectory(dir)
    },
    async close () {}
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
