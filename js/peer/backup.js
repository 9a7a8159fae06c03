/**
 * Backups of a headless peer's data directory (js/backup's format): export
 * from a stopped peer's directory to a file, import a file into an empty
 * directory. Both hold the directory's LOCK, so neither runs beside a live
 * peer (which would be writing while we read, or reading a half-imported
 * store). Node only.
 */
import { createReadStream } from 'node:fs'
import { mkdir, readdir, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { createStorage, restoreSnapshot } from '../storage/index.js'
import { createBlobStore } from '../blobs/index.js'
import { BackupTargetNotEmptyError, backupContents, readBackup } from '../backup/index.js'
import { nodeScrypt } from '../backup/node-scrypt.js'
import { writeBackupFile } from '../backup/node-file.js'
import { lockDataDir } from './index.js'

/**
 * Writes dataDir's server to file (js/backup/node-file.js: no partial file is
 * ever left under that name).
 * @param {object} options
 * @param {string} options.dataDir a peer's data directory; the peer must not be running
 * @param {string} options.file
 * @param {string} options.passphrase
 * @param {(p: import('../backup/writer.js').ExportProgress) => void} [options.onProgress]
 * @param {object} [options.kdf] scrypt cost (tests lower it)
 * @returns {Promise<{serverName: string, bytes: number, blobs: number}>}
 */
export async function exportDataDir ({ dataDir, file, passphrase, onProgress, kdf }) {
  if (!(await readdir(dataDir).catch(() => [])).some(n => n.startsWith('hearth.'))) {
    throw new Error(`${dataDir} holds no Hearth database`)
  }
  const unlock = await lockDataDir(dataDir)
  let storage, media
  try {
    // snapshotPolicy null: an export reads the directory and never compacts it.
    storage = await createStorage({ persistence: 'file', dir: dataDir, snapshotPolicy: null })
    media = await createBlobStore({ persistence: 'file', dir: join(dataDir, 'media') })
    const contents = await backupContents(storage, media.blobs)
    try {
      const written = await writeBackupFile(file, { passphrase, contents, kdf, onProgress })
      return { serverName: contents.serverName, bytes: written.bytes, blobs: written.blobs }
    } finally {
      contents.release()
    }
  } finally {
    await media?.close()
    await storage?.close()
    await unlock()
  }
}

/**
 * Imports file into dataDir, which must be empty or missing. Media files are
 * stored as they are read; the database only once the whole file verified.
 * On any failure everything written is removed, so the directory is as empty
 * as it was (BackupPassphraseError, BackupCorruptError, … from js/backup).
 * @param {object} options
 * @param {string} options.dataDir
 * @param {string} options.file
 * @param {string} options.passphrase
 * @param {(p: {bytesRead: number, totalBytes: number}) => void} [options.onProgress]
 * @returns {Promise<{serverName: string, blobs: number}>}
 */
export async function importDataDir ({ dataDir, file, passphrase, onProgress = () => {} }) {
  const existing = await readdir(dataDir).catch(err => { if (err.code === 'ENOENT') return []; throw err })
  if (existing.length > 0) throw new BackupTargetNotEmptyError(`${dataDir} (not empty)`)
  const { size: totalBytes } = await stat(file)
  await mkdir(dataDir, { recursive: true })
  const unlock = await lockDataDir(dataDir)
  let media
  try {
    media = await createBlobStore({ persistence: 'file', dir: join(dataDir, 'media') })
    const backup = await readBackup({
      passphrase,
      source: createReadStream(file),
      scrypt: nodeScrypt,
      onBlob: (key, bytes) => media.blobs.put(key, bytes),
      onProgress: ({ bytesRead }) => onProgress({ bytesRead, totalBytes })
    })
    await restoreSnapshot({ persistence: 'file', dir: dataDir }, backup.database, backup.journal)
    return { serverName: backup.manifest.serverName, blobs: backup.blobs }
  } catch (err) {
    await media?.close()
    media = null
    for (const name of await readdir(dataDir)) {
      if (name !== 'LOCK') await rm(join(dataDir, name), { recursive: true, force: true })
    }
    throw err
  } finally {
    await media?.close()
    await unlock()
  }
}
