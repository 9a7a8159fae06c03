/**
 * The backup file, version 2 (all integers little-endian unless said):
 *
 *   file    = header, chunk*               the last chunk has final = 1, none after it
 *   header  = "HRTHBKUP", u16 version (2; 1 is read too), u8 kdf (1: scrypt), u8 logN,
 *             u32 r, u32 p, 16-byte salt, 7-byte nonce prefix,
 *             u32 chunkBytes, 32-byte keyCheck                   (79 bytes)
 *   chunk   = u8 final (0 or 1), u32 sealed length, sealed
 *             sealed = AES-256-GCM ciphertext || 16-byte tag (crypto.js: key,
 *             nonce, associated data); the final flag is also in the nonce, so
 *             flipping it here makes the chunk fail to authenticate
 *
 * Every chunk but the last holds exactly chunkBytes of plaintext. The
 * plaintext, cut into those chunks, is a sequence of entries:
 *
 *   entry   = u8 kind, u16 name length, name (UTF-8), u64 length, bytes
 *   kind 1  manifest  name "": JSON {format: 2, serverName, createdAt (ms since
 *                     the epoch), databaseBytes, journalBytes, blobs (count)}; always first
 *   kind 2  identity  name "ed25519": the server's key, seed || public key (64 bytes)
 *   kind 3  database  name "sqlite": the SQLite database image as of one committed
 *                     transaction (its last snapshot; may be empty: no snapshot yet)
 *   kind 5  journal   name "records": the journal records that follow that image
 *                     (js/storage/journal.js, one after another, numbered on from
 *                     it): replayed over the image they give the database as of
 *                     the export. Version 2 only (the writer puts it right after the database).
 *   kind 4  blob      name = its key (js/blobs/keys.js): one media file
 *   kind 0  end       name "", length 0; always last
 *
 * Version 1 had no journal entry: its image was the whole database.
 * Why an image and a journal, not one image: the export reads what storage
 * already made durable (js/storage's snapshot chunks and journal), so a
 * running server is never held while its database is copied.
 *
 * A reader stops at the first thing that does not fit and reports it as
 * BackupCorruptError: a header or entry that is malformed, a chunk that does
 * not authenticate, a final chunk before the end entry or an end entry before
 * the final chunk, bytes after the final chunk, or a file that ends early.
 */
import { BackupCorruptError, BackupVersionError } from './errors.js'
import { KEY_CHECK_BYTES, NONCE_PREFIX_BYTES, SALT_BYTES, TAG_BYTES } from './crypto.js'

export const FORMAT_VERSION = 2
/** The versions a reader accepts. */
export const READABLE_VERSIONS = Object.freeze([1, 2])
export const MAGIC = new TextEncoder().encode('HRTHBKUP')
export const HEADER_BYTES = 8 + 2 + 1 + 1 + 4 + 4 + SALT_BYTES + NONCE_PREFIX_BYTES + 4 + KEY_CHECK_BYTES
const KDF_SCRYPT = 1
/** 1 MiB of plaintext per chunk: few chunks, and little held at once. */
export const DEFAULT_CHUNK_BYTES = 1 << 20
/** The largest chunk a reader accepts (a crafted header must not make it allocate more). */
export const MAX_CHUNK_BYTES = 16 << 20

export const KIND = Object.freeze({ end: 0, manifest: 1, identity: 2, database: 3, blob: 4, journal: 5 })
/** u8 kind, u16 name length, u64 length */
export const ENTRY_HEAD_BYTES = 1 + 2 + 8

/**
 * @typedef {{version?: number, logN: number, r: number, p: number, salt: Uint8Array, noncePrefix: Uint8Array, chunkBytes: number, keyCheck: Uint8Array}} Header
 *   version: as read (decodeHeader); encodeHeader writes FORMAT_VERSION
 */

/** @param {Header} h @returns {Uint8Array} */
export function encodeHeader (h) {
  const out = new Uint8Array(HEADER_BYTES)
  const view = new DataView(out.buffer)
  out.set(MAGIC, 0)
  let o = 8
  view.setUint16(o, FORMAT_VERSION, true); o += 2
  out[o++] = KDF_SCRYPT
  out[o++] = h.logN
  view.setUint32(o, h.r, true); o += 4
  view.setUint32(o, h.p, true); o += 4
  out.set(h.salt, o); o += SALT_BYTES
  out.set(h.noncePrefix, o); o += NONCE_PREFIX_BYTES
  view.setUint32(o, h.chunkBytes, true); o += 4
  out.set(h.keyCheck, o)
  return out
}

/** @param {Uint8Array} bytes exactly HEADER_BYTES @returns {Header} */
export function decodeHeader (bytes) {
  if (bytes.length < HEADER_BYTES || !MAGIC.every((b, i) => bytes[i] === b)) {
    throw new BackupCorruptError('not a Hearth backup (no HRTHBKUP header)')
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  let o = 8
  const version = view.getUint16(o, true); o += 2
  if (!READABLE_VERSIONS.includes(version)) throw new BackupVersionError(version)
  const kdf = bytes[o++]
  if (kdf !== KDF_SCRYPT) throw new BackupCorruptError(`unknown key derivation ${kdf}`)
  const logN = bytes[o++]
  const r = view.getUint32(o, true); o += 4
  const p = view.getUint32(o, true); o += 4
  const salt = bytes.slice(o, o + SALT_BYTES); o += SALT_BYTES
  const noncePrefix = bytes.slice(o, o + NONCE_PREFIX_BYTES); o += NONCE_PREFIX_BYTES
  const chunkBytes = view.getUint32(o, true); o += 4
  const keyCheck = bytes.slice(o, o + KEY_CHECK_BYTES)
  if (chunkBytes < 1 || chunkBytes > MAX_CHUNK_BYTES) throw new BackupCorruptError(`chunk size ${chunkBytes} is out of bounds`)
  return { version, logN, r, p, salt, noncePrefix, chunkBytes, keyCheck }
}

/** The head of one entry (its bytes follow). */
export function encodeEntryHead (kind, name, length) {
  const nameBytes = new TextEncoder().encode(name)
  const out = new Uint8Array(ENTRY_HEAD_BYTES + nameBytes.length)
  const view = new DataView(out.buffer)
  out[0] = kind
  view.setUint16(1, nameBytes.length, true)
  out.set(nameBytes, 3)
  view.setBigUint64(3 + nameBytes.length, BigInt(length), true)
  return out
}

/** The bytes a chunk of `plain` plaintext bytes takes in the file. */
export const sealedChunkBytes = plain => CHUNK_HEAD_BYTES + plain + TAG_BYTES
/** u8 final, u32 sealed length */
export const CHUNK_HEAD_BYTES = 5
