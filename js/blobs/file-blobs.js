/**
 * Blobs as files (Node): each is the file at its key under `dir`
 * (keys.js makes keys safe relative paths), the layout go/media/fileblobs.go
 * uses too.
 *
 * A put writes `.put-<random>` beside the target, fsyncs it, renames it into
 * place and fsyncs the directory (and any directory it had to create, up to
 * `dir`): the blob is there whole or not at all, and durable when put
 * resolves. Opening removes `.put-*` files a crash left; keys() never lists
 * them (keys never start with a dot). Deletes are not fsynced: a blob that
 * reappears after a crash has no row, and Go's start-up sweep removes it.
 */
import { randomBytes } from 'node:crypto'
import { mkdir, open, readdir, readFile, rename, rm, unlink } from 'node:fs/promises'
import { dirname, join, relative, sep } from 'node:path'
import { syncDirectory } from '../storage/file-persistence.js'
import { validKey } from './keys.js'

const TEMP_PREFIX = '.put-'

/** @param {{dir: string}} options */
export async function fileBlobs ({ dir }) {
  if (!dir) throw new TypeError('file blobs need options.dir')
  await mkdir(dir, { recursive: true })
  for (const file of await walk(dir)) {
    if (file.split(sep).pop().startsWith(TEMP_PREFIX)) await rm(file, { force: true })
  }
  const pathOf = key => join(dir, ...key.split('/'))

  async function makeDirDurably (parent) {
    const first = await mkdir(parent, { recursive: true })
    if (first === undefined) return
    for (let d = parent; ; d = dirname(d)) {
      await syncDirectory(dirname(d))
      if (d === first) return
    }
  }

  return {
    async put (key, bytes) {
      const path = pathOf(key)
      const parent = dirname(path)
      await makeDirDurably(parent)
      const tmp = join(parent, TEMP_PREFIX + randomBytes(6).toString('hex'))
      try {
        const fh = await open(tmp, 'w')
        try {
          await fh.writeFile(bytes)
          await fh.sync()
        } finally {
          await fh.close()
        }
        await rename(tmp, path)
      } catch (err) {
        await rm(tmp, { force: true })
        throw err
      }
      await syncDirectory(parent)
    },
    async get (key) {
      try {
        return new Uint8Array(await readFile(pathOf(key)))
      } catch (err) {
        if (err.code === 'ENOENT') return null
        throw err
      }
    },
    async delete (key) {
      await unlink(pathOf(key)).catch(err => { if (err.code !== 'ENOENT') throw err })
    },
    async keys (prefix = '') {
      const files = await walk(join(dir, prefix)).catch(err => { if (err.code === 'ENOENT') return []; throw err })
      return files.map(f => relative(dir, f).split(sep).join('/')).filter(validKey)
    },
    async close () {}
  }
}

/** Every file under dir, recursively. */
async function walk (dir) {
  const files = []
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) files.push(...await walk(path))
    else files.push(path)
  }
  return files
}
