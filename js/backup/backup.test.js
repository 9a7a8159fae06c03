import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { backupContents, readBackup, writeBackup, serverNameOf, BackupCorruptError, BackupPassphraseError, BackupVersionError } from './index.js'
import { nobleScrypt } from './crypto.js'
import { nodeScrypt } from './node-scrypt.js'
import { CHUNK_HEAD_BYTES, HEADER_BYTES } from './format.js'
import { createStorage, restoreSnapshot } from '../storage/index.js'
import { encodeRecord, KIND_SCRIPT } from '../storage/journal.js'
import { rows, withStore } from '../storage/testkit.js'

// Cheap scrypt and small chunks: the format, not the cost, is under test.
const FAST = { kdf: { logN: 10, r: 8, p: 1 }, chunkBytes: 4096 }

const identityKey = (await generateKeyPair('Ed25519')).raw

function contents () {
  const image = new Uint8Array(4096 * 3 + 1000).map((_, i) => (i * 7) & 0xff)
  const blobs = new Map([['local/abc', new Uint8Array([1, 2, 3])], ['remote/peer/xyz', new Uint8Array(9000).fill(9)]])
  const journal = [encodeRecord(4, [{ kind: KIND_SCRIPT, sql: 'SELECT 4', params: null }]), encodeRecord(5, [{ kind: KIND_SCRIPT, sql: 'SELECT 5', params: null }])]
  return {
    serverName: serverNameOf(identityKey),
    identityKey,
    // handed over in pieces that are not the file's chunks
    database: { bytes: image.length, chunks: async function * () { for (let o = 0; o < image.length; o += 5000) yield image.subarray(o, o + 5000) } },
    image,
    journal,
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
    assert.deepEqual(out.database, c.image)
    assert.deepEqual(out.journal, new Uint8Array(Buffer.concat(c.journal)))
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
  const future = Buffer.from(file); future.writeUInt16LE(3, 8)
  await assert.rejects(read(future), BackupVersionError)
})

test("Node's native scrypt and @noble/hashes' agree", async () => {
  const salt = new Uint8Array(16).fill(3)
  const pw = new TextEncoder().encode('pässword')
  const opts = { N: 1024, r: 8, p: 1, dkLen: 32 }
  assert.deepEqual(await nodeScrypt(pw, salt, opts), await nobleScrypt(pw, salt, opts))
})

test('an image that ends short of its announced length fails the export', async () => {
  const c = contents()
  await assert.rejects(backupBytes({ ...c, database: { bytes: c.image.length + 1, chunks: c.database.chunks } }), /announced/)
})

test('a version 1 file (an image, no journal) still reads', async () => {
  const file = await readFile(new URL('./testdata/v1-a-row.hearth-backup', import.meta.url))
  const out = await read(file, 'version one')
  assert.equal(out.manifest.format, 1)
  assert.equal(out.journal.length, 0)
  assert.equal(out.blobs, 1)
  const dir = await mkdtemp(join(tmpdir(), 'hearth-backup-'))
  try {
    await restoreSnapshot({ persistence: 'file', dir }, out.database, out.journal)
    const restored = await createStorage({ persistence: 'file', dir })
    assert.deepEqual(rows(restored.storage, 'SELECT v FROM t'), [['written by version 1']])
    await restored.close()
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

for (const kind of ['file', 'indexeddb']) {
  test(`${kind}: a backup of a running store is its last snapshot and the journal since; restored, it holds every durable commit, and snapshots wait for the export`, async () => {
    // Small snapshots: some commits are in the snapshot, some in the journal after it.
    const policy = { snapshotPolicy: { maxRecords: 3, minBytes: 0, maxBytes: 1 << 30, databaseFraction: 100, maxReplayMs: 1e9 } }
    await withStore(kind, policy, async (sourceOptions) => {
      const source = await createStorage(sourceOptions)
      const bridge = source.storage
      bridge.exec(`CREATE TABLE server_identity (id INTEGER PRIMARY KEY, private_key BLOB); INSERT INTO server_identity VALUES (1, x'${Buffer.from(identityKey).toString('hex')}'); CREATE TABLE t (id INTEGER PRIMARY KEY)`)
      await bridge.commit()
      let n = 0
      const commitRow = async () => { bridge.exec(`INSERT INTO t VALUES (${++n})`); await bridge.commit() }
      while (n < 50 && !(source.stats().snapshots >= 1 && source.stats().journalRecords >= 1 && source.stats().journalRecords < 3)) await commitRow()
      const inExport = n
      const blobs = { keys: async () => [], get: async () => null }
      const c = await backupContents(source, blobs)
      assert.ok(c.database.bytes > 0 && c.journal.length > 0, 'the export has a snapshot and records after it')
      const snapshotsBefore = source.stats().snapshots
      // Commits go on while the file is written; none of them is in it, and none snapshots.
      for (let i = 0; i < 8; i++) await commitRow()
      assert.equal(source.stats().snapshots, snapshotsBefore, 'no snapshot while the export reads')
      const { file } = await backupBytes(c)
      c.release()
      await commitRow()
      await waitFor(() => source.stats().snapshots > snapshotsBefore, 'a snapshot once the export is done')
      const out = await read(file)
      await withStore(kind, {}, async (targetOptions) => {
        await restoreSnapshot(targetOptions, out.database, out.journal)
        const restored = await createStorage(targetOptions)
        assert.deepEqual(rows(restored.storage, 'SELECT id FROM t ORDER BY id').map(r => Number(r[0])), Array.from({ length: inExport }, (_, i) => i + 1))
        await restored.close()
        await assert.rejects(restoreSnapshot(targetOptions, out.database, out.journal), /holds data/)
      })
      await source.close()
    })
  })
}

test('a journal that does not follow its image is refused before anything is written', async () => {
  const record = (seq) => encodeRecord(seq, [{ kind: KIND_SCRIPT, sql: 'SELECT 1', params: null }])
  await withStore('file', {}, async (options) => {
    await assert.rejects(restoreSnapshot(options, new Uint8Array(0), record(2)), /does not follow/, 'no image: records start at 1')
    await assert.rejects(restoreSnapshot(options, new Uint8Array(10), Buffer.concat([record(3), record(5)])), /does not follow/, 'a gap')
    await assert.rejects(restoreSnapshot(options, new Uint8Array(10), record(3).subarray(0, 20)), /damaged/, 'torn')
    const empty = await createStorage(options)
    assert.equal(empty.stats().seq, 0)
    await empty.close()
  })
})

async function waitFor (predicate, what) {
  for (let i = 0; i < 200 && !predicate(); i++) await new Promise(resolve => setTimeout(resolve, 10))
  assert.ok(predicate(), what)
}
