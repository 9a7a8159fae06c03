/**
 * Reads a backup (format.js) as a stream and hands its contents over as they
 * are verified. Nothing is trusted before its chunk authenticates, and the
 * file as a whole is only known good when readBackup resolves: a caller that
 * stores blobs from onBlob must remove them if it rejects.
 */
import { BackupCorruptError, BackupPassphraseError } from './errors.js'
import { TAG_BYTES, checkKdfParams, deriveKeys, openChunk, sameBytes } from './crypto.js'
import { serverNameOf } from './identity.js'
import { CHUNK_HEAD_BYTES, ENTRY_HEAD_BYTES, HEADER_BYTES, KIND, decodeHeader } from './format.js'

/**
 * @typedef {{format: number, serverName: string, createdAt: number, databaseBytes: number, journalBytes?: number, blobs: number}} Manifest
 */

/**
 * @param {object} options
 * @param {string} options.passphrase
 * @param {AsyncIterable<Uint8Array>|ReadableStream<Uint8Array>} options.source the file
 * @param {import('./crypto.js').ScryptFn} [options.scrypt]
 * @param {(manifest: Manifest) => Promise<void>|void} [options.onManifest] before anything else
 * @param {(key: string, bytes: Uint8Array) => Promise<void>} [options.onBlob] each media file, in order
 * @param {(p: {bytesRead: number}) => void} [options.onProgress] after each chunk
 * @returns {Promise<{manifest: Manifest, identityKey: Uint8Array, database: Uint8Array, journal: Uint8Array, blobs: number}>}
 *   database and journal: restore with js/storage's restoreSnapshot(options, database, journal)
 *   (a version 1 file's journal is empty); BackupPassphraseError, BackupCorruptError,
 *   BackupVersionError otherwise
 */
export async function readBackup ({ passphrase, source, scrypt, onManifest = () => {}, onBlob = async () => {}, onProgress = () => {} }) {
  const file = byteQueue(iterate(source), () => new BackupCorruptError('the file ends early (truncated)'))
  const headerBytes = await file.exact(HEADER_BYTES)
  const header = decodeHeader(headerBytes)
  checkKdfParams(header)
  const { key, keyCheck } = await deriveKeys(passphrase, header, scrypt)
  if (!sameBytes(keyCheck, header.keyCheck)) throw new BackupPassphraseError()

  let bytesRead = HEADER_BYTES
  let sawFinal = false
  async function * plaintext () {
    for (let index = 0; !sawFinal; index++) {
      const head = await file.exact(CHUNK_HEAD_BYTES)
      const final = head[0]
      const length = new DataView(head.buffer, head.byteOffset).getUint32(1, true)
      if (final > 1 || length < TAG_BYTES || length > header.chunkBytes + TAG_BYTES) {
        throw new BackupCorruptError(`chunk ${index} has a malformed head`)
      }
      const plain = await openChunk(key, headerBytes, header.noncePrefix, index, final === 1, await file.exact(length))
      if (final === 0 && plain.length !== header.chunkBytes) throw new BackupCorruptError(`chunk ${index} is short`)
      bytesRead += CHUNK_HEAD_BYTES + length
      sawFinal = final === 1
      onProgress({ bytesRead })
      yield plain
    }
  }
  const entries = byteQueue(plaintext(), () => new BackupCorruptError('the last chunk ends inside an entry'))
  const readEntry = async () => {
    const head = await entries.exact(ENTRY_HEAD_BYTES - 8)
    const kind = head[0]
    const nameLength = new DataView(head.buffer, head.byteOffset).getUint16(1, true)
    const name = new TextDecoder('utf-8', { fatal: true }).decode(await entries.exact(nameLength))
    const length = Number(new DataView((await entries.exact(8)).buffer).getBigUint64(0, true))
    if (!Number.isSafeInteger(length)) throw new BackupCorruptError(`entry ${name} has an impossible length`)
    return { kind, name, bytes: await entries.exact(length) }
  }

  const first = await readEntry()
  if (first.kind !== KIND.manifest) throw new BackupCorruptError('the manifest is not the first entry')
  let manifest
  try {
    manifest = JSON.parse(new TextDecoder().decode(first.bytes))
  } catch (err) {
    throw new BackupCorruptError('the manifest is not JSON', { cause: err })
  }
  if (manifest.format !== header.version || typeof manifest.serverName !== 'string') {
    throw new BackupCorruptError('the manifest is malformed')
  }
  await onManifest(manifest)

  let identityKey = null
  let database = null
  let journal = header.version === 1 ? new Uint8Array(0) : null
  let blobs = 0
  for (;;) {
    const e = await readEntry()
    if (e.kind === KIND.end) break
    if (e.kind === KIND.identity && identityKey === null) identityKey = e.bytes
    else if (e.kind === KIND.database && database === null) database = e.bytes
    else if (e.kind === KIND.journal && journal === null) journal = e.bytes
    else if (e.kind === KIND.blob) {
      await onBlob(e.name, e.bytes)
      blobs++
    } else throw new BackupCorruptError(`unexpected entry of kind ${e.kind}`)
  }
  if (!(await entries.atEnd())) throw new BackupCorruptError('entries follow the end entry')
  if (!sawFinal) throw new BackupCorruptError('the end entry is not in the final chunk')
  if (!(await file.atEnd())) throw new BackupCorruptError('bytes follow the final chunk')
  if (identityKey === null || identityKey.length !== 64) throw new BackupCorruptError('the identity key is missing')
  if (serverNameOf(identityKey) !== manifest.serverName) throw new BackupCorruptError('the identity key is not the named server\'s')
  if (database === null || database.length !== manifest.databaseBytes) throw new BackupCorruptError('the database is missing')
  if (journal === null || (header.version > 1 && journal.length !== manifest.journalBytes)) throw new BackupCorruptError('the journal is missing')
  return { manifest, identityKey, database, journal, blobs }
}

/** Async iteration over a ReadableStream (not every browser has it natively) or any async iterable. */
async function * iterate (source) {
  if (typeof source?.getReader !== 'function') {
    for await (const chunk of source) yield chunk instanceof Uint8Array ? chunk : new Uint8Array(chunk)
    return
  }
  const reader = source.getReader()
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) return
      yield value
    }
  } finally {
    reader.releaseLock()
  }
}

/**
 * Reads exact lengths from a stream of byte chunks. exact(n) copies into a
 * new array of n bytes (so a large entry is assembled once); it throws
 * ended() if the stream ends first.
 */
function byteQueue (chunks, ended) {
  let current = new Uint8Array(0)
  let offset = 0
  const fill = async () => {
    while (offset === current.length) {
      const { done, value } = await chunks.next()
      if (done) return false
      current = value
      offset = 0
    }
    return true
  }
  return {
    async exact (n) {
      const out = new Uint8Array(n)
      for (let o = 0; o < n;) {
        if (!(await fill())) throw ended()
        const take = Math.min(n - o, current.length - offset)
        out.set(current.subarray(offset, offset + take), o)
        o += take
        offset += take
      }
      return out
    },
    async atEnd () {
      return !(await fill())
    }
  }
}
