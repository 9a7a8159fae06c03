import { test } from 'node:test'
import assert from 'node:assert/strict'
import { appendFile, mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { IDBFactory, IDBKeyRange } from 'fake-indexeddb'
import { createStorage } from './index.js'
import { execCommit, ids, insertId } from './testkit.js'
import { crc32, decodeRecords, encodeRecord, KIND_STATEMENT } from './journal.js'

test('crc32 matches the standard check value', () => {
  assert.equal(crc32(new TextEncoder().encode('123456789')), 0xcbf43926)
})

test('a torn or corrupt record ends the readable journal', () => {
  const a = encodeRecord(1, [{ kind: KIND_STATEMENT, sql: 'INSERT INTO t VALUES (1)', params: null }])
  const b = encodeRecord(2, [{ kind: KIND_STATEMENT, sql: 'INSERT INTO t VALUES (2)', params: null }])
  const both = new Uint8Array([...a, ...b])
  assert.deepEqual(decodeRecords(both).records.map(r => r.seq), [1, 2])
  for (let cut = a.length; cut < both.length; cut++) {
    const r = decodeRecords(both.subarray(0, cut))
    assert.deepEqual(r.records.map(r => r.seq), [1], `cut at ${cut}`)
    assert.equal(r.torn, cut > a.length)
  }
  const flipped = both.slice()
  flipped[a.length + 12] ^= 1
  assert.deepEqual(decodeRecords(flipped).records.map(r => r.seq), [1])
})

test('file journal: torn tails are ignored and later writes still replay', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'hearth-journal-'))
  const options = { persistence: 'file', dir, name: 'j' }
  try {
    let s = await createStorage(options)
    await execCommit(s.storage, 'CREATE TABLE t (id INTEGER PRIMARY KEY)')
    for (const id of [1, 2, 3]) await insertId(s.storage, id)
    await s.close()
    // A crash in the middle of an append: half a record at the end of the segment.
    const [segment] = (await readdir(dir)).filter(n => n.startsWith('j.journal.'))
    const next = encodeRecord(99, [{ kind: KIND_STATEMENT, sql: 'INSERT INTO t VALUES (4)', params: null }])
    await appendFile(join(dir, segment), next.subarray(0, next.length - 3))

    s = await createStorage(options)
    assert.deepEqual(ids(s.storage), [1, 2, 3])
    await insertId(s.storage, 5)
    await s.close()
    s = await createStorage(options)
    assert.deepEqual(ids(s.storage), [1, 2, 3, 5], 'a write after the torn record was lost')
    await s.close()
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

for (const kind of ['file', 'indexeddb']) {
  test(`${kind}: snapshots replace the journal they cover`, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hearth-journal-'))
    const options = kind === 'file'
      ? { persistence: 'file', dir, name: 's', snapshotPolicy: { maxBytes: 512 } }
      : { persistence: 'indexeddb', name: 's', indexedDB: new IDBFactory(), IDBKeyRange, snapshotPolicy: { maxBytes: 512 } }
    try {
      let s = await createStorage(options)
      await execCommit(s.storage, 'CREATE TABLE t (id INTEGER PRIMARY KEY, pad BLOB)')
      for (let id = 1; id <= 400; id++) await insertId(s.storage, id)
      const stats = s.stats()
      await s.close()
      assert.ok(stats.snapshots >= 1, `no snapshot was taken: ${JSON.stringify(stats)}`)
      if (kind === 'file') {
        const segments = (await readdir(dir)).filter(n => n.startsWith('s.journal.'))
        assert.ok(segments.length <= 2, `old segments were kept: ${segments}`)
      }
      s = await createStorage(options)
      assert.equal(ids(s.storage).length, 400)
      assert.ok(s.stats().replayed < 400, 'everything was replayed: the snapshot was not used')
      await s.close()
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
}
