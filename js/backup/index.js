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
 * What a backup holds, read from a running (or stopped) server's durable
 * storage without holding it (Storage.durableState): the last snapshot's
 * image, a piece at a time, and the journal records since, together the
 * database as of the last durable commit; the identity key. Blobs are listed
 * then and read as the file is written; a blob has no row until its bytes are
 * stored, so one uploaded meanwhile is simply not in the backup, and one
 * deleted meanwhile is skipped. Snapshots wait until release(): call it once
 * the file is written or abandoned.
 * @param {{durableState: Function}} opened createStorage()'s result
 * @param {object} blobs createBlobStore().blobs
 * @returns {Promise<import('./writer.js').BackupContents & {release: () => void}>}
 */
export async function backupContents (opened, blobs) {
  const state = await opened.durableState({ select: 'SELECT private_key FROM server_identity WHERE id = 1' })
  try {
    if (state.rows.length !== 1) throw new Error('the database has no server identity yet')
    return {
      serverName: serverNameOf(state.rows[0][0]),
      identityKey: state.rows[0][0],
      database: { bytes: state.imageBytes, chunks: state.chunks },
      journal: state.records,
      blobKeys: await blobs.keys(),
      getBlob: key => blobs.get(key),
      release: state.release
    }
  } catch (err) {
    state.release()
    throw err
  }
}
