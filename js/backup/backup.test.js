import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { readBackup, writeBackup, serverNameOf, BackupCorruptError, BackupPassphraseError, BackupVersionError } from './index.js'
import { nobleScrypt } from './crypto.js'
import { nodeScrypt } from './node-scrypt.js'
import { CHUNK_HEAD_BYTES, HEADER_BYTES } from './format.js'
import { createStorage, restoreSnapshot } from '../storage/index.js'

// Cheap scrypt and small chunks: the format, not the cost, is under test.
const FAST = { kdf: { logN: 10, r: 8, p: 1 }, chunkBytes: 4096 }

const identityKey = (await generateKeyPair('Ed25519')).raw

function contents () {
  const database = new Uint8Array(4096 * 3 + 1000).map((_, i) => (i * 7) & 0xff)
  const blobs = new Map([['local/abc', new Uint8Array([1, 2, 3])], ['remote/peer/xyz', new Uint8Array(9000).fill(9)]])
  return {
    serverName: serverNameOf(identityKey),
    identityKey,
    database,
    blobKeys: [...blobs.keys()],
    getBlob: async key => blobs.get(key) ?? null,
    blobs
  }
}

async function backupBytes (c = contents(), passphrase = 'correct horse') {
  const parts = []
  const progress = []
  await writeBackup({ passphrase, contents: c, write: b => { parts.push(b) }, onProgress: p => progress.push(p), ...FAST })
  return { file: Buffer.concat(parts), progress }
}

async function read (file, passphrase = 'correct horse', pieces = 1000) {
  const blobs = new Map()
  const chunks = []
  for (let o = 0; o < file.length; o += pieces) chunks.push(new Uint8Array(file.subarray(o, o + pieces)))
  const out = await readBackup({ passphrase, source: chunks, onBlob: async (k, b) => { blobs.set(k, b) } })
  return { ...out, blobMap: blobs }
}

/** Offsets of each chunk's head in a file. */
function chunkOffsets (file) {
  const offsets = []
  for (let o = HEADER_BYTES; o < file.length; o += CHUNK_HEAD_BYTES + file.readUInt32LE(o + 1)) offsets.push(o)
  return offsets
}

test('a backup reads back as written, whatever the read sizes', async () => {
  const c = contents()
  const { file, progress } = await backupBytes(c)
  assert.equal(progress.at(-1).phase, 'done')
  assert.equal(progress.at(-1).bytesWritten, file.length)
  // A large media file reports each chunk (a page watching for a stalled export sees them).
  const duringSecondBlob = new Set(progress.filter(p => p.phase === 'media' && p.blobsDone === 1).map(p => p.bytesWritten))
  assert.ok(duringSecondBlob.size >= 3, `one report for the 9,000-byte blob's ${Math.floor(9000 / FAST.chunkBytes)} chunks: ${[...duringSecondBlob]}`)
  for (const pieces of [1, 77, 1 << 20]) {
    const out = await read(file, 'correct horse', pieces)
    assert.equal(out.manifest.serverName, c.serverName)
    assert.deepEqual(out.identityKey, c.identityKey)
    assert.deepEqual(out.database, c.database)
    assert.deepEqual(out.blobMap, c.blobs)
  }
})

test('a key that is not the named server\'s is BackupCorruptError', async () => {
  const { file } = await backupBytes({ ...contents(), serverName: '12D3KooWSomeoneElse' })
  await assert.rejects(read(file), BackupCorruptError)
})

test('a web ReadableStream is a source too', async () => {
  const { file } = await backupBytes()
  const out = await readBackup({ passphrase: 'correct horse', source: new Blob([file]).stream() })
  assert.equal(out.blobs, 2)
})

test('a wrong passphrase is BackupPassphraseError', async () => {
  const { file } = await backupBytes()
  await assert.rejects(read(file, 'wrong horse'), BackupPassphraseError)
})

test('truncation anywhere is BackupCorruptError', async () => {
  const { file } = await backupBytes()
  const offsets = chunkOffsets(file)
  const cuts = [0, 10, HEADER_BYTES, HEADER_BYTES + 3, offsets[1], offsets[1] + 100, offsets.at(-1), file.length - 1]
  for (const cut of cuts) {
    await assert.rejects(read(file.subarray(0, cut)), BackupCorruptError, `cut at ${cut}`)
  }
})

test('tampering, reordering, a flipped final flag and trailing bytes are BackupCorruptError', async () => {
  const { file } = await backupBytes()
  const offsets = chunkOffsets(file)
  const flip = (at) => { const f = Buffer.from(file); f[at] ^= 1; return f }
  await assert.rejects(read(flip(offsets[1] + CHUNK_HEAD_BYTES + 10)), BackupCorruptError, 'a ciphertext byte')
  await assert.rejects(read(flip(file.length - 1)), BackupCorruptError, 'a tag byte')
  await assert.rejects(read(flip(offsets[0])), BackupCorruptError, 'the final flag')
  // A header byte (the chunk size) is associated data: every chunk fails.
  await assert.rejects(read(flip(HEADER_BYTES - 32 - 4)), BackupCorruptError, 'the header')
  const swapped = Buffer.concat([file.subarray(0, offsets[1]), file.subarray(offsets[2], offsets[3]), file.subarray(offsets[1], offsets[2]), file.subarray(offsets[3])])
  await assert.rejects(read(swapped), BackupCorruptError, 'two chunks swapped')
  const dropped = Buffer.concat([file.subarray(0, offsets[1]), file.subarray(offsets[2])])
  await assert.rejects(read(dropped), BackupCorruptError, 'a chunk dropped')
  await assert.rejects(read(Buffer.concat([file, Buffer.from([0])])), BackupCorruptError, 'a byte appended')
  await assert.rejects(read(Buffer.from('not a backup at all, just text that is long enough to be a header, or longer than that')), BackupCorruptError)
  const future = Buffer.from(file); future.writeUInt16LE(2, 8)
  await assert.rejects(read(future), BackupVersionError)
})

test("Node's native scrypt and @noble/hashes' agree", async () => {
  const salt = new Uint8Array(16).fill(3)
  const pw = new TextEncoder().encode('pässword')
  const opts = { N: 1024, r: 8, p: 1, dkLen: 32 }
  assert.deepEqual(await nodeScrypt(pw, salt, opts), await nobleScrypt(pw, salt, opts))
})

test('a storage snapshot restores into an empty store, and not over one with data', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'hearth-backup-'))
  try {
    const source = await createStorage({ persistence: 'file', dir: join(dir, 'a') })
    const bridge = source.storage
    bridge.exec('CREATE TABLE server_identity (id INTEGER PRIMARY KEY, private_key BLOB); INSERT INTO server_identity VALUES (1, x\'0102\')')
    await bridge.commit()
    const { image, rows } = await source.exportSnapshot({ select: 'SELECT private_key FROM server_identity' })
    assert.deepEqual(rows[0][0], new Uint8Array([1, 2]))
    await source.close()
    await restoreSnapshot({ persistence: 'file', dir: join(dir, 'b') }, image)
    const restored = await createStorage({ persistence: 'file', dir: join(dir, 'b') })
    const again = await restored.exportSnapshot({ select: 'SELECT private_key FROM server_identity' })
    assert.deepEqual(again.rows, rows)
    await restored.close()
    await assert.rejects(restoreSnapshot({ persistence: 'file', dir: join(dir, 'b') }, image), /holds data/)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})
