/**
 * The backup's cryptography, composed only of standard primitives from
 * maintained implementations: scrypt (@noble/hashes, or Node's native one
 * passed in as options.scrypt), HKDF-SHA256 and AES-256-GCM (WebCrypto:
 * crypto.subtle in browsers, workers and Node).
 *
 *   ikm      = scrypt(UTF-8(NFKC(passphrase)), salt, N = 2^logN, r, p, 32 bytes)
 *   aesKey   = HKDF-SHA256(ikm, salt = "", info = "hearth-backup v1 aes-256-gcm", 32 bytes)
 *   keyCheck = HKDF-SHA256(ikm, salt = "", info = "hearth-backup v1 key check", 32 bytes)
 *   chunk i  = AES-256-GCM(aesKey, nonce_i, aad = the whole header, plaintext_i)
 *   nonce_i  = noncePrefix (7 bytes, random per file) || u32 big-endian i || u8 final
 *
 * This is the STREAM construction (Hoang, Reyhanitabar, Rogaway, Vizár 2015,
 * "Online Authenticated-Encryption and its Nonce-Reuse Misuse-Resistance"):
 * the chunk index in the nonce detects reordering and dropped chunks, the
 * final flag (set on the last chunk only) detects truncation at a chunk
 * boundary, and the header as associated data of every chunk binds the KDF
 * parameters, salt and chunk size. A fresh random salt gives every file its own
 * key, so a nonce never repeats under one key.
 *
 * keyCheck is stored in the header so that a wrong passphrase is told apart
 * from a damaged file. It tells an attacker nothing that the first chunk's
 * tag does not: both need the scrypt work per guess.
 */
import { scryptAsync } from '@noble/hashes/scrypt.js'
import { BackupCorruptError } from './errors.js'

/** 2^17 × r 8 = 128 MiB and ~0.5–2 s per derivation: the cost of each passphrase guess. */
export const DEFAULT_KDF = Object.freeze({ logN: 17, r: 8, p: 1 })
/** What a header may ask for: a crafted file must not make an import allocate gigabytes. */
const KDF_LIMITS = { logN: [10, 20], r: [1, 32], p: [1, 16] }
export const TAG_BYTES = 16
export const SALT_BYTES = 16
export const NONCE_PREFIX_BYTES = 7
export const KEY_CHECK_BYTES = 32

const subtle = () => globalThis.crypto.subtle
const utf8 = s => new TextEncoder().encode(s)

/**
 * @typedef {(password: Uint8Array, salt: Uint8Array, opts: {N: number, r: number, p: number, dkLen: number}) => Promise<Uint8Array>} ScryptFn
 * The shape of @noble/hashes' scryptAsync (without its progress callback).
 */

/** @type {ScryptFn} */
export const nobleScrypt = (password, salt, opts) => scryptAsync(password, salt, { ...opts, maxmem: 2 ** 31 })

/** Throws BackupCorruptError if a header's KDF parameters are out of bounds. */
export function checkKdfParams ({ logN, r, p }) {
  for (const [name, value] of Object.entries({ logN, r, p })) {
    const [min, max] = KDF_LIMITS[name]
    if (!(Number.isInteger(value) && value >= min && value <= max)) {
      throw new BackupCorruptError(`scrypt parameter ${name}=${value} is outside ${min}..${max}`)
    }
  }
}

/**
 * @param {string} passphrase
 * @param {{logN: number, r: number, p: number, salt: Uint8Array}} params
 * @param {ScryptFn} [scrypt]
 * @returns {Promise<{key: CryptoKey, keyCheck: Uint8Array}>}
 */
export async function deriveKeys (passphrase, { logN, r, p, salt }, scrypt = nobleScrypt) {
  const ikm = await scrypt(utf8(passphrase.normalize('NFKC')), salt, { N: 2 ** logN, r, p, dkLen: 32 })
  const hkdf = await subtle().importKey('raw', ikm, 'HKDF', false, ['deriveBits'])
  const expand = async (info) => new Uint8Array(await subtle().deriveBits(
    { name: 'HKDF', hash: 'SHA-256', salt: new Uint8Array(0), info: utf8(info) }, hkdf, 256))
  const raw = await expand('hearth-backup v1 aes-256-gcm')
  const key = await subtle().importKey('raw', raw, 'AES-GCM', false, ['encrypt', 'decrypt'])
  return { key, keyCheck: await expand('hearth-backup v1 key check') }
}

/** The 12-byte nonce of chunk `index`. */
export function chunkNonce (prefix, index, final) {
  const nonce = new Uint8Array(12)
  nonce.set(prefix, 0)
  new DataView(nonce.buffer).setUint32(NONCE_PREFIX_BYTES, index, false)
  nonce[11] = final ? 1 : 0
  return nonce
}

/** @returns {Promise<Uint8Array>} ciphertext || tag */
export async function sealChunk (key, header, prefix, index, final, plaintext) {
  const iv = chunkNonce(prefix, index, final)
  return new Uint8Array(await subtle().encrypt({ name: 'AES-GCM', iv, additionalData: header }, key, plaintext))
}

/** @returns {Promise<Uint8Array>} the plaintext; BackupCorruptError if the tag does not verify */
export async function openChunk (key, header, prefix, index, final, sealed) {
  const iv = chunkNonce(prefix, index, final)
  try {
    return new Uint8Array(await subtle().decrypt({ name: 'AES-GCM', iv, additionalData: header }, key, sealed))
  } catch (err) {
    throw new BackupCorruptError(`chunk ${index} does not authenticate (altered, reordered or cut short)`, { cause: err })
  }
}

/** Constant-time enough for a value that is not secret (see keyCheck above). */
export function sameBytes (a, b) {
  if (a.length !== b.length) return false
  let diff = 0
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i]
  return diff === 0
}
