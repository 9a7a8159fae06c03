/**
 * Writes a backup (format.js) as a stream: the database image and each media
 * file are cut into chunks, sealed and handed to `write` one at a time, so
 * the file is never in memory whole and the image is never copied again.
 */
import { DEFAULT_KDF, SALT_BYTES, NONCE_PREFIX_BYTES, deriveKeys, sealChunk, checkKdfParams } from './crypto.js'
import { CHUNK_HEAD_BYTES, DEFAULT_CHUNK_BYTES, FORMAT_VERSION, KIND, encodeEntryHead, encodeHeader } from './format.js'

/**
 * @typedef {object} BackupContents what a backup holds, read at one consistent moment
 * @property {string} serverName
 * @property {Uint8Array} identityKey ed25519 seed || public key
 * @property {Uint8Array} database the SQLite image
 * @property {string[]} blobKeys the media blobs' keys (js/blobs/keys.js)
 * @property {(key: string) => Promise<Uint8Array|null>} getBlob null: gone since keys() (skipped)
 *
 * @typedef {object} ExportProgress
 * @property {'kdf'|'database'|'media'|'done'} phase
 * @property {number} databaseBytes
 * @property {number} databaseDone bytes of the image written so far
 * @property {number} blobs
 * @property {number} blobsDone
 * @property {number} bytesWritten bytes of the file so far
 */

/**
 * @param {object} options
 * @param {string} options.passphrase
 * @param {BackupContents} options.contents
 * @param {(bytes: Uint8Array) => Promise<void>|void} options.write receives the file in order;
 *   each call's bytes are the callee's to keep
 * @param {{logN: number, r: number, p: number}} [options.kdf] scrypt cost (DEFAULT_KDF; tests lower it)
 * @param {number} [options.chunkBytes] plaintext per chunk (DEFAULT_CHUNK_BYTES)
 * @param {import('./crypto.js').ScryptFn} [options.scrypt] e.g. Node's native scrypt (node-scrypt.js)
 * @param {(n: number) => Uint8Array} [options.randomBytes] salt and nonce prefix
 * @param {() => number} [options.now] the manifest's createdAt
 * @param {(p: ExportProgress) => void} [options.onProgress]
 * @returns {Promise<{bytes: number, blobs: number, manifest: object}>}
 */
export async function writeBackup ({
  passphrase, contents, write, kdf = DEFAULT_KDF, chunkBytes = DEFAULT_CHUNK_BYTES, scrypt,
  randomBytes = n => globalThis.crypto.getRandomValues(new Uint8Array(n)), now = Date.now, onProgress = () => {}
}) {
  if (typeof passphrase !== 'string' || passphrase.length === 0) throw new TypeError('a backup needs a passphrase')
  checkKdfParams(kdf)
  const progress = {
    phase: 'kdf', databaseBytes: contents.database.length, databaseDone: 0,
    blobs: contents.blobKeys.length, blobsDone: 0, bytesWritten: 0
  }
  const report = (changes) => { Object.assign(progress, changes); onProgress({ ...progress }) }
  report({})

  const salt = randomBytes(SALT_BYTES)
  const noncePrefix = randomBytes(NONCE_PREFIX_BYTES)
  const { key, keyCheck } = await deriveKeys(passphrase, { ...kdf, salt }, scrypt)
  const header = encodeHeader({ ...kdf, salt, noncePrefix, chunkBytes, keyCheck })
  await write(header)
  progress.bytesWritten = header.length

  // Plaintext gathers in `pending` until a chunk is full, then is sealed and written.
  const pending = new Uint8Array(chunkBytes)
  let filled = 0
  let index = 0
  const seal = async (final) => {
    const sealed = await sealChunk(key, header, noncePrefix, index++, final, pending.subarray(0, filled))
    const head = new Uint8Array(CHUNK_HEAD_BYTES)
    head[0] = final ? 1 : 0
    new DataView(head.buffer).setUint32(1, sealed.length, true)
    await write(head)
    await write(sealed)
    progress.bytesWritten += head.length + sealed.length
    filled = 0
  }
  const push = async (bytes, onBytes = () => {}) => {
    for (let o = 0; o < bytes.length;) {
      const n = Math.min(chunkBytes - filled, bytes.length - o)
      pending.set(bytes.subarray(o, o + n), filled)
      filled += n
      o += n
      if (filled === chunkBytes) {
        await seal(false)
        onBytes(o)
      }
    }
  }
  const entry = async (kind, name, bytes, onBytes) => {
    await push(encodeEntryHead(kind, name, bytes.length))
    await push(bytes, onBytes)
  }

  const manifest = {
    format: FORMAT_VERSION,
    serverName: contents.serverName,
    createdAt: now(),
    databaseBytes: contents.database.length,
    blobs: contents.blobKeys.length
  }
  await entry(KIND.manifest, '', new TextEncoder().encode(JSON.stringify(manifest)))
  await entry(KIND.identity, 'ed25519', contents.identityKey)
  report({ phase: 'database' })
  await entry(KIND.database, 'sqlite', contents.database, done => report({ databaseDone: done }))
  report({ phase: 'media', databaseDone: contents.database.length })
  let blobs = 0
  for (const blobKey of contents.blobKeys) {
    const bytes = await contents.getBlob(blobKey)
    if (bytes !== null) {
      // Reported per chunk too: a large media file is many chunks.
      await entry(KIND.blob, blobKey, bytes, () => report({}))
      blobs++
    }
    report({ blobsDone: progress.blobsDone + 1 })
  }
  await push(encodeEntryHead(KIND.end, '', 0))
  await seal(true)
  report({ phase: 'done' })
  return { bytes: progress.bytesWritten, blobs, manifest }
}
