/**
 * Writes a backup (format.js) as a stream: the database image (read a piece
 * at a time), its journal and each media file are cut into chunks, sealed and
 * handed to `write` one at a time, so neither the file nor the image is ever
 * in memory whole.
 */
import { DEFAULT_KDF, SALT_BYTES, NONCE_PREFIX_BYTES, deriveKeys, sealChunk, checkKdfParams } from './crypto.js'
import { CHUNK_HEAD_BYTES, DEFAULT_CHUNK_BYTES, FORMAT_VERSION, KIND, encodeEntryHead, encodeHeader } from './format.js'

/**
 * @typedef {object} BackupContents what a backup holds, read at one consistent moment
 * @property {string} serverName
 * @property {Uint8Array} identityKey ed25519 seed || public key
 * @property {{bytes: number, chunks: () => AsyncIterable<Uint8Array>}} database the SQLite
 *   image (its length, and its bytes in order, a piece at a time)
 * @property {Uint8Array[]} journal the journal records that follow the image (js/storage/journal.js)
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
    phase: 'kdf', databaseBytes: contents.database.bytes, databaseDone: 0,
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
    databaseBytes: contents.database.bytes,
    journalBytes: contents.journal.reduce((n, r) => n + r.length, 0),
    blobs: contents.blobKeys.length
  }
  await entry(KIND.manifest, '', new TextEncoder().encode(JSON.stringify(manifest)))
  await entry(KIND.identity, 'ed25519', contents.identityKey)
  report({ phase: 'database' })
  await push(encodeEntryHead(KIND.database, 'sqlite', contents.database.bytes))
  let databaseDone = 0
  for await (const piece of contents.database.chunks()) {
    await push(piece, done => report({ databaseDone: databaseDone + done }))
    databaseDone += piece.length
  }
  if (databaseDone !== contents.database.bytes) throw new Error(`the database image has ${databaseDone} bytes, not the ${contents.database.bytes} announced`)
  await push(encodeEntryHead(KIND.journal, 'records', manifest.journalBytes))
  for (const record of contents.journal) await push(record)
  report({ phase: 'media', databaseDone })
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
