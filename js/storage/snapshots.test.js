import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdir, readFile, unlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { IDBFactory, IDBKeyRange } from 'fake-indexeddb'
import { loadSqlJs } from './sqljs.js'
import { createStorage } from './index.js'
import { crc32 } from './journal.js'
import { decodeManifest, encodeManifest, planSnapshot } from './snapshot.js'
import { DEFAULT_SNAPSHOT_POLICY, snapshotDue } from './snapshot-policy.js'
import { execCommit, int, rows, withStore } from './testkit.js'

const KINDS = ['file', 'indexeddb']

async function insert (storage, id, pad = 0) {
  storage.begin()
  rows(storage, 'INSERT INTO t (id, pad) VALUES (?, zeroblob(?))', [int(id), int(pad)])
  await storage.commit()
}

const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))

const ids = storage => rows(storage, 'SELECT id FROM t ORDER BY id').map(r => Number(r[0]))

test('the manifest round-trips, and a flipped byte is a StorageCorruptError', () => {
  const m = { lastSeq: 2 ** 40, generation: 7, chunkBytes: 4096, length: 4096 * 2 + 10, chunks: [1, 7, 3].map(g => ({ generation: g, hash: new Uint8Array(32).fill(g) })) }
  const bytes = encodeManifest(m)
  assert.deepEqual(decodeManifest(bytes), m)
  for (const at of [0, 9, 20, bytes.length - 1]) {
    const bad = bytes.slice()
    bad[at] ^= 1
    assert.throws(() => decodeManifest(bad), { name: 'StorageCorruptError' }, `byte ${at}`)
  }
})

test('planSnapshot keeps unchanged chunks and rewrites changed, new and shortened ones', async () => {
  const image = new Uint8Array(10_000).map((_, i) => i % 251)
  const first = await planSnapshot(null, 1, image, 4096)
  assert.deepEqual(first.changed.map(c => c.index), [0, 1, 2], 'no previous snapshot: everything')
  const next = image.slice(0, 9_000)
  next[5000] ^= 1
  const second = await planSnapshot(first.manifest, 2, next, 4096)
  assert.deepEqual(second.changed.map(c => c.index), [1, 2], 'chunk 0 is unchanged')
  assert.equal(second.manifest.chunks[0].generation, 1)
  assert.equal(second.manifest.chunks[1].generation, 2)
  assert.deepEqual([second.manifest.length, second.manifest.chunks.length], [9_000, 3])
  const resized = await planSnapshot(second.manifest, 3, next, 2048)
  assert.equal(resized.changed.length, 5, 'another chunk size: nothing compares')
})

test('snapshotDue: records, the byte cap, a quarter of the database, the floor, replay time, a pause', () => {
  const p = DEFAULT_SNAPSHOT_POLICY
  const MB = 1024 * 1024
  const cases = [
    [{ records: 0, bytes: 0 }, 0, false],
    [{ records: 249, bytes: 100 }, 1 * MB, false],
    [{ records: 250, bytes: 100 }, 1 * MB, true],
    [{ records: 10, bytes: 1 * MB }, 1000 * MB, true],
    [{ records: 10, bytes: 0.9 * MB }, 1000 * MB, false],
    [{ records: 10, bytes: 300_000 }, 1 * MB, true],
    [{ records: 10, bytes: 200_000 }, 1 * MB, false],
    [{ records: 10, bytes: 64 * 1024 }, 0, true],
    [{ records: 10, bytes: 60 * 1024 }, 0, false],
    [{ records: 11, bytes: 15_375, replayMs: 24 }, 1 * MB, false],
    [{ records: 11, bytes: 15_375, replayMs: 25 }, 1 * MB, true],
    [{ records: 0, bytes: 0, replayMs: 500 }, 0, false]
  ]
  for (const [journal, db, due] of cases) assert.equal(snapshotDue(p, journal, () => db), due, JSON.stringify({ journal, db }))
  // Below the floor no size bound can be reached: the database is not asked its size.
  assert.equal(snapshotDue(p, { records: 10, bytes: 60 * 1024 }, () => { throw new Error('asked') }), false)
  // Once writes pause, idleRecords is enough.
  assert.equal(snapshotDue(p, { records: 50, bytes: 100 }, () => 1 * MB), false)
  assert.equal(snapshotDue(p, { records: 50, bytes: 100 }, () => 1 * MB, { idle: true }), true)
  assert.equal(snapshotDue(p, { records: 49, bytes: 100 }, () => 1 * MB, { idle: true }), false)
  // Or idleWrites statements, however few the records.
  assert.equal(snapshotDue(p, { records: 1, bytes: 100, writes: 400 }, () => 1 * MB, { idle: true }), true)
  assert.equal(snapshotDue(p, { records: 1, bytes: 100, writes: 399 }, () => 1 * MB, { idle: true }), false)
  assert.equal(snapshotDue(p, { records: 1, bytes: 100, writes: 400 }, () => 1 * MB), false)
})

/** Waits for the one snapshot a pause in writes takes; the next open then replays nothing and holds ids. */
async function expectIdleSnapshot (s, options, expectedIds) {
  for (let i = 0; i < 200 && s.stats().snapshots === 0; i++) await sleep(10)
  assert.equal(s.stats().snapshots, 1, 'taken once writes paused')
  assert.equal(s.stats().journalRecords, 0)
  await s.close()
  const s2 = await createStorage(options)
  assert.equal(s2.stats().replayed, 0, 'the next open replays nothing')
  assert.deepEqual(ids(s2.storage), expectedIds)
  await s2.close()
}

for (const kind of KINDS) {
  test(`${kind}: snapshots are taken across storage lives and the journal to replay stays bounded`, async () => {
    // Each life writes fewer records than the bound: only a count kept across
    // lives (the records replayed at open) ever reaches it.
    const LIVES = 30
    const WRITES = 4
    const policy = { maxRecords: 10 }
    await withStore(kind, { snapshotPolicy: policy }, async options => {
      let s = await createStorage(options)
      await execCommit(s.storage, 'CREATE TABLE t (id INTEGER PRIMARY KEY, pad BLOB)')
      await s.close()
      let snapshots = 0
      let id = 0
      for (let life = 0; life < LIVES; life++) {
        s = await createStorage(options)
        const opened = s.stats()
        assert.ok(opened.replayed <= policy.maxRecords, `life ${life}: replayed ${opened.replayed} records`)
        assert.deepEqual(ids(s.storage), Array.from({ length: id }, (_, i) => i + 1), `life ${life}: data lost`)
        for (let i = 0; i < WRITES; i++) await insert(s.storage, ++id)
        await s.close()
        snapshots += s.stats().snapshots
      }
      assert.ok(snapshots >= (LIVES * WRITES) / policy.maxRecords - 1, `only ${snapshots} snapshots in ${LIVES} lives`)
    })
  })

  test(`${kind}: a journal costly to replay is snapshotted: scripts as they run, records as replayed at open`, async () => {
    // Every other bound is far off; a nanosecond makes any script or replay costly enough.
    await withStore(kind, { snapshotPolicy: { maxReplayMs: 1e-6 } }, async options => {
      const s = await createStorage(options)
      await execCommit(s.storage, 'CREATE TABLE t (id INTEGER PRIMARY KEY, pad BLOB)')
      await insert(s.storage, 1) // a statement: its cost is known only once replayed
      await s.close()
      assert.equal(s.stats().snapshots, 1, 'the script was snapshotted in its own life')
      const s2 = await createStorage(options)
      assert.equal(s2.stats().replayed, 1)
      await s2.close()
      assert.equal(s2.stats().snapshots, 1, 'the replayed record was snapshotted at open')
      const s3 = await createStorage(options)
      assert.equal(s3.stats().replayed, 0)
      assert.deepEqual(ids(s3.storage), [1])
      await s3.close()
    })
  })

  test(`${kind}: a snapshot due at open waits until start-up has been served, then is taken`, async () => {
    await withStore(kind, { snapshotPolicy: { maxReplayMs: 1e-6 }, openSnapshotDelayMs: 50 }, async options => {
      const s = await createStorage({ ...options, snapshotPolicy: null })
      await execCommit(s.storage, 'CREATE TABLE t (id INTEGER PRIMARY KEY, pad BLOB)')
      await insert(s.storage, 1)
      await s.close()
      const s2 = await createStorage(options)
      assert.equal(s2.stats().replayed, 2)
      assert.equal(s2.stats().journalRecords, 2, 'no snapshot started inside open')
      assert.deepEqual(ids(s2.storage), [1], 'the first read is answered')
      for (let i = 0; i < 100 && s2.stats().snapshots === 0; i++) await sleep(10)
      assert.equal(s2.stats().snapshots, 1, 'taken once the delay passed')
      await s2.close()
      const s3 = await createStorage(options)
      assert.equal(s3.stats().replayed, 0)
      await s3.close()
    })
  })

  test(`${kind}: once writes pause, a journal of idleRecords is snapshotted; a shorter one is left`, async () => {
    // Every other bound is far off: only the pause can make these snapshots.
    const policy = { maxRecords: 1000, maxReplayMs: 1e9, idleMs: 500, idleRecords: 4 }
    await withStore(kind, { snapshotPolicy: policy, openSnapshotDelayMs: 1e9 }, async options => {
      const s = await createStorage(options)
      await execCommit(s.storage, 'CREATE TABLE t (id INTEGER PRIMARY KEY, pad BLOB)')
      await insert(s.storage, 1)
      await insert(s.storage, 2)
      await sleep(700)
      assert.equal(s.stats().snapshots, 0, '3 records are fewer than idleRecords')
      // Writes closer together than idleMs put the snapshot off until they
      // stop, however long they go on (here ~1.5 idleMs).
      for (let id = 3; id <= 10; id++) {
        await insert(s.storage, id)
        await sleep(100)
      }
      assert.equal(s.stats().snapshots, 0, 'not while writes go on')
      await expectIdleSnapshot(s, options, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    })
  })

  test(`${kind}: once writes pause, a record of idleWrites statements is snapshotted; a smaller one is left`, async () => {
    // One record of many statements (go/room's cold event mover writes such
    // batches) costs far more to replay than its one record counts.
    const policy = { maxRecords: 1000, maxReplayMs: 1e9, idleMs: 300, idleRecords: 1000, idleWrites: 40 }
    await withStore(kind, { snapshotPolicy: policy, openSnapshotDelayMs: 1e9 }, async options => {
      const batch = async (first, count) => {
        s.storage.begin()
        for (let id = first; id < first + count; id++) rows(s.storage, 'INSERT INTO t (id, pad) VALUES (?, zeroblob(?))', [int(id), int(0)])
        await s.storage.commit()
      }
      const s = await createStorage(options)
      await execCommit(s.storage, 'CREATE TABLE t (id INTEGER PRIMARY KEY, pad BLOB)')
      await batch(1, 20)
      await sleep(500)
      assert.equal(s.stats().snapshots, 0, '21 statements are fewer than idleWrites')
      assert.equal(s.stats().journalWrites, 21)
      await batch(21, 20)
      await expectIdleSnapshot(s, options, Array.from({ length: 40 }, (_, i) => i + 1))
    })
  })

  test(`${kind}: commits made while a snapshot is written are snapshotted in the same life`, async () => {
    await withStore(kind, { snapshotPolicy: { maxRecords: 1 } }, async options => {
      const s = await createStorage(options)
      await execCommit(s.storage, 'CREATE TABLE t (id INTEGER PRIMARY KEY, pad BLOB)')
      // Each commit finds the previous one's snapshot still being written.
      for (let id = 1; id <= 5; id++) await insert(s.storage, id, 50_000)
      await s.close()
      assert.ok(s.stats().snapshots >= 2, `${s.stats().snapshots} snapshots`)
      const s2 = await createStorage(options)
      assert.equal(s2.stats().replayed, 0, 'the last commits were left to the next open')
      assert.deepEqual(ids(s2.storage), [1, 2, 3, 4, 5])
      await s2.close()
    })
  })

  test(`${kind}: a small write after a snapshot rewrites only the chunks it changed`, async () => {
    await withStore(kind, { snapshotPolicy: { maxRecords: 1 }, snapshotChunkBytes: 4096 }, async options => {
      const s = await createStorage(options)
      await execCommit(s.storage, 'CREATE TABLE t (id INTEGER PRIMARY KEY, pad BLOB)')
      for (let id = 1; id <= 50; id++) await insert(s.storage, id, 4000) // a page each
      await s.close()
      // Whatever journal is left is snapshotted at this open.
      await (await createStorage(options)).close()
      const s2 = await createStorage(options)
      await insert(s2.storage, 51)
      await s2.close()
      const stats = s2.stats()
      assert.equal(stats.snapshots, 1)
      assert.ok(stats.snapshotChunksWritten <= 4, `wrote ${stats.snapshotChunksWritten} of ~50 chunks`)
      const s3 = await createStorage(options)
      assert.equal(s3.stats().replayed, 0)
      assert.equal(ids(s3.storage).length, 51)
      await s3.close()
    })
  })
}

/** What the whole-image snapshots before chunks looked like (snapshot.js decodeWholeSnapshot). */
async function wholeSnapshotOf (sql, lastSeq) {
  const SQL = await loadSqlJs()
  const db = new SQL.Database()
  db.run(sql)
  const image = db.export()
  db.close()
  const out = new Uint8Array(20 + image.length)
  out.set(new TextEncoder().encode('HRTHSNAP'))
  const view = new DataView(out.buffer)
  view.setBigUint64(8, BigInt(lastSeq), true)
  view.setUint32(16, crc32(image), true)
  out.set(image, 20)
  return out
}

async function openedFromWholeSnapshot (options) {
  let s = await createStorage({ ...options, snapshotPolicy: { maxRecords: 1 } })
  assert.deepEqual(ids(s.storage), [1, 2])
  await insert(s.storage, 3)
  await s.close()
  assert.equal(s.stats().snapshots, 1)
  s = await createStorage(options)
  assert.deepEqual(ids(s.storage), [1, 2, 3])
  assert.equal(s.stats().replayed, 0)
  await s.close()
}

const OLD_DATABASE = 'CREATE TABLE t (id INTEGER PRIMARY KEY, pad BLOB); INSERT INTO t (id) VALUES (1), (2)'

/** Damages one stored chunk of a store: 'short' drops its last byte, 'missing' deletes it. */
async function damageChunk (kind, options, how) {
  if (kind === 'file') {
    const generation = f => Number(f.split('.').at(-1))
    const name = (await readdir(options.dir)).filter(f => f.startsWith('test.chunk.1.')).sort((a, b) => generation(a) - generation(b)).at(-1)
    const path = join(options.dir, name)
    if (how === 'missing') return unlink(path)
    return writeFile(path, (await readFile(path)).subarray(0, -1))
  }
  const db = await new Promise((resolve, reject) => {
    const req = options.indexedDB.open('test')
    req.onsuccess = () => resolve(req.result)
    req.onerror = () => reject(req.error)
  })
  const tx = db.transaction('chunks', 'readwrite')
  const chunks = tx.objectStore('chunks')
  if (how === 'missing') {
    chunks.delete(1)
  } else {
    const get = chunks.get(1)
    get.onsuccess = () => chunks.put(new Uint8Array(get.result).subarray(0, -1).slice(), 1)
  }
  await new Promise((resolve, reject) => { tx.oncomplete = resolve; tx.onerror = () => reject(tx.error) })
  db.close()
}

for (const kind of KINDS) {
  for (const how of ['short', 'missing']) {
    test(`${kind}: a snapshot of many chunks opens whole, and a ${how} chunk is a StorageCorruptError`, async () => {
      await withStore(kind, { snapshotPolicy: { maxRecords: 1 }, snapshotChunkBytes: 4096 }, async options => {
        const s = await createStorage(options)
        await execCommit(s.storage, 'CREATE TABLE t (id INTEGER PRIMARY KEY, pad BLOB)')
        for (let id = 1; id <= 20; id++) await insert(s.storage, id, 4000)
        await s.close()
        const intact = await createStorage(options) // snapshots what arrived during the last snapshot
        assert.equal(ids(intact.storage).length, 20)
        await intact.close()
        await damageChunk(kind, options, how)
        await assert.rejects(createStorage(options), { name: 'StorageCorruptError' })
      })
    })
  }
}

test('file: a whole-image snapshot from before chunks opens, and the next snapshot replaces it', async () => {
  await withStore('file', {}, async options => {
    await writeFile(join(options.dir, 'test.snapshot'), await wholeSnapshotOf(OLD_DATABASE, 5))
    await openedFromWholeSnapshot(options)
    const names = await readdir(options.dir)
    assert.ok(!names.includes('test.snapshot') && names.includes('test.manifest'), names.join(' '))
  })
})

test('indexeddb: a version 2 store (whole-image snapshot) opens, and the next snapshot replaces it', async () => {
  const indexedDB = new IDBFactory()
  const req = indexedDB.open('old', 2)
  req.onupgradeneeded = () => {
    req.result.createObjectStore('snapshot')
    req.result.createObjectStore('journal')
  }
  const db = await new Promise((resolve, reject) => { req.onsuccess = () => resolve(req.result); req.onerror = reject })
  const tx = db.transaction('snapshot', 'readwrite')
  tx.objectStore('snapshot').put(await wholeSnapshotOf(OLD_DATABASE, 5), 'db')
  await new Promise(resolve => { tx.oncomplete = resolve })
  db.close()
  await openedFromWholeSnapshot({ persistence: 'indexeddb', name: 'old', indexedDB, IDBKeyRange })
})

test('a snapshot due by the database-size bound is taken at the first commit that makes it due', async () => {
  // The size is read only once the journal nears the bound at the last size
  // read (Storage.knownDatabaseBytes); that must not delay a snapshot.
  const policy = { maxRecords: 1e6, maxBytes: 1e9, minBytes: 4096, databaseFraction: 1 / 4, maxReplayMs: 1e9 }
  await withStore('file', { snapshotPolicy: policy, openSnapshotDelayMs: 1e9 }, async options => {
    const s = await createStorage(options)
    await execCommit(s.storage, 'CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)')
    const filler = { name: '', tag: 3, value: new TextEncoder().encode('x'.repeat(3000)) }
    let taken = false
    for (let i = 0; i < 200 && !taken; i++) {
      const before = s.storage.stats()
      s.storage.begin()
      rows(s.storage, 'INSERT INTO t (id, v) VALUES (?, ?)', [int(i), filler])
      await s.storage.commit()
      const after = s.storage.stats()
      const journal = before.journalBytes + (after.journalBytesWritten - before.journalBytesWritten) // at the commit's check
      const due = journal >= Math.max(policy.minBytes, after.databaseBytes * policy.databaseFraction)
      taken = after.journalRecords === 0 // a snapshot begun covers the journal at once
      assert.equal(taken, due, `commit ${i}: journal ${journal} B, database ${after.databaseBytes} B`)
    }
    assert.ok(taken, 'no snapshot was ever due')
    await s.close()
  })
})
