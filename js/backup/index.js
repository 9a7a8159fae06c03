/**
 * js/backup: a whole Hearth server in one passphrase-encrypted file (its
 * identity key, a consistent snapshot of its database, every media blob), and
 * back. Used by the headless peer (js/peer/backup.js) and the service worker.
 *
 * format.js is the file format (versioned), crypto.js the construction,
 * writer.js and reader.js stream it; README.md "Backups" is the overview.
 */
import { serverNameOf } from './identity.js'

export { writeBackup } from './writer.js'
export { readBackup } from './reader.js'
export { DEFAULT_KDF } from './crypto.js'
export { FORMAT_VERSION, DEFAULT_CHUNK_BYTES } from './format.js'
export { BackupError, BackupPassphraseError, BackupCorruptError, BackupVersionError, BackupTargetNotEmptyError } from './errors.js'
export { serverNameOf } from './identity.js'

/**
 * What a backup holds, read from a running (or stopped) server's storage at
 * one quiescent moment: the image and the identity key are of the same
 * committed state. Blobs are listed then and read as the file is written; a
 * blob has no row until its bytes are stored, so one uploaded meanwhile is
 * simply not in the backup, and one deleted meanwhile is skipped.
 * @param {{exportSnapshot: Function}} opened createStorage()'s result
 * @param {object} blobs createBlobStore().blobs
 * @returns {Promise<import('./writer.js').BackupContents>}
 */
export async function snapshotContents (opened, blobs) {
  const { image, rows } = await opened.exportSnapshot({ select: 'SELECT private_key FROM server_identity WHERE id = 1' })
  if (rows.length !== 1) throw new Error('the database has no server identity yet')
  return {
    serverName: serverNameOf(rows[0][0]),
    identityKey: rows[0][0],
    database: image,
    blobKeys: await blobs.keys(),
    getBlob: key => blobs.get(key)
  }
}
