/**
 * Node's native scrypt (OpenSSL) in the shape of crypto.js's ScryptFn: the
 * same function as @noble/hashes' (a test checks they agree), several times
 * faster, so the headless peer passes it. Node only.
 */
import { scrypt } from 'node:crypto'

/** @type {import('./crypto.js').ScryptFn} */
export function nodeScrypt (password, salt, { N, r, p, dkLen }) {
  return new Promise((resolve, reject) => {
    // OpenSSL refuses anything over maxmem (default 32 MiB); scrypt needs 128·N·r.
    scrypt(password, salt, dkLen, { N, r, p, maxmem: 256 * N * r }, (err, key) => {
      if (err) reject(err)
      else resolve(new Uint8Array(key))
    })
  })
}
