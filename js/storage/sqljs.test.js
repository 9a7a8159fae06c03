import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createStorage } from './index.js'
import { filePersistence } from './file-persistence.js'
import { Storage } from './storage.js'
import { checkWriteWatching, loadSqlJs, openDatabaseOwning } from './sqljs.js'
import { execCommit, int, rows, withStore } from './testkit.js'
import { execFile } from 'node:child_process'
import { createRequire } from 'node:module'
import { dirname } from 'node:path'
import { promisify } from 'node:util'
import { startSite } from '../site/serve.js'

const KINDS = ['file', 'indexeddb']
const CHUNK = 4096
const text = s => ({ name: '', tag: 3, value: new TextEncoder().encode(s) })

test('sql.js is loaded with its database files\' writes watched (fails when an sql.js upgrade breaks it)', async () => {
  await loadSqlJs()
  assert.deepEqual(checkWriteWatching(), { watching: true, reason: null })
})

test('a database opened from an image takes the image over as its file instead of copying it', async () => {
  const SQL = await loadSqlJs()
  const source = new SQL.Database()
  source.run("CREATE TABLE t (v TEXT); INSERT INTO t VALUES ('before')")
  const image = source.export()
  source.close()
  const before = image.slice()
  const db = openDatabaseOwning(SQL, image)
  try {
    assert.equal(Object.hasOwn(image, 'slice'), false)
    db.run("UPDATE t SET v = 'after'")
    assert.deepEqual(db.exec('SELECT v FROM t')[0].values, [['after']])
    // The write landed in the very bytes handed over: no second copy was made.
    assert.notDeepEqual(image, before)
    assert.deepEqual(db.export().subarray(100), image.subarray(100))
  } finally {
    db.close()
  }
})

// sw.js names sql.js's wasm by its hash: a worker start then waits on no
// revalidation of it (js/assets/fetch.js). In a process of its own: sql.js
// loads once per realm.
test('an immutable sql.js wasm URL is taken from the HTTP cache without revalidating', async () => {
  const dir = dirname(createRequire(import.meta.url).resolve('sql.js/dist/sql-wasm.wasm'))
  const site = await startSite({ dir, port: 0, host: '127.0.0.1' })
  try {
    const load = async (options) => {
      const script = `
        import { loadSqlJs } from ${JSON.stringify(new URL('./sqljs.js', import.meta.url).href)}
        const modes = []
        const realFetch = globalThis.fetch
        globalThis.fetch = (url, init) => { modes.push(init?.cache ?? 'default'); return realFetch(url, init) }
        try {
          const SQL = await loadSqlJs({ locateFile: () => ${JSON.stringify(`${site.url}sql-wasm.wasm?v=1`)}, ${options} })
          console.log(JSON.stringify({ modes, sum: new SQL.Database().exec('SELECT 1 + 1')[0].values[0][0] }))
        } catch (err) {
          console.log(JSON.stringify({ modes, error: err.message }))
        }`
      const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { timeout: 20_000 })
      return JSON.parse(stdout)
    }
    assert.deepEqual(await load('immutable: true'), { modes: ['force-cache'], sum: 2 })
    assert.deepEqual(await load(''), { modes: ['default'], sum: 2 }, 'a URL not said to be immutable is revalidated as its headers ask')
  } finally {
    await site.close()
  }
})

/** Writes v for each id in one transaction (null deletes). */
async function put (storage, changes) {
  storage.begin()
  for (const [id, v] of changes) {
    if (v === null) rows(storage, 'DELETE FROM t WHERE id = ?', [int(id)])
    else rows(storage, 'INSERT OR REPLACE INTO t (id, v) VALUES (?, ?)', [int(id), text(v)])
  }
  await storage.commit()
}

/** A first life that makes table t and fills it with rows of ~900 bytes; returns them as a model. */
async function firstLife (options, rowCount) {
  const first = await createStorage(options)
  await execCommit(first.storage, 'CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)')
  const filler = Array.from({ length: rowCount }, (_, i) => [i + 1, `row ${i + 1} `.padEnd(900, 'x')])
  await put(first.storage, filler)
  const databaseBytes = first.stats().databaseBytes
  await first.close()
  return { model: new Map(filler), databaseBytes }
}

const contents = storage => new Map(rows(storage, 'SELECT id, v FROM t ORDER BY id').map(([id, v]) => [Number(id), v]))

async function reopenedMatches (options, model) {
  const s = await createStorage({ ...options, snapshotPolicy: null })
  try {
    assert.deepEqual(rows(s.storage, 'PRAGMA integrity_check'), [['ok']])
    assert.deepEqual(contents(s.storage), model)
  } finally {
    await s.close()
  }
}

for (const kind of KINDS) {
  test(`${kind}: a snapshot copies the chunks written since the last one, not the database`, async () => {
    await withStore(kind, { snapshotPolicy: { maxRecords: 1 }, snapshotChunkBytes: CHUNK, openSnapshotDelayMs: 0 }, async options => {
      const { model, databaseBytes } = await firstLife(options, 200)

      const second = await createStorage(options)
      await put(second.storage, [[150, 'changed']])
      model.set(150, 'changed')
      await second.close()
      const stats = second.stats()
      assert.equal(stats.watchedWrites, true)
      assert.ok(stats.snapshots >= 1, 'no snapshot was taken')
      assert.ok(stats.snapshotBytesCopied <= 4 * CHUNK * stats.snapshots,
        `${stats.snapshots} snapshot(s) copied ${stats.snapshotBytesCopied} bytes of a ${databaseBytes}-byte database`)
      await reopenedMatches(options, model)
    })
  })

  test(`${kind}: random writes over many lives, each snapshotting only what changed, reopen to the same rows`, async () => {
    let seed = 7
    const random = n => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n }
    await withStore(kind, { snapshotPolicy: { maxRecords: 3 }, snapshotChunkBytes: CHUNK, openSnapshotDelayMs: 0 }, async options => {
      const model = new Map()
      let copied = 0
      let snapshots = 0
      let databaseBytes = 0
      for (let life = 0; life < 6; life++) {
        const s = await createStorage(options)
        if (life === 0) {
          await execCommit(s.storage, 'CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)')
          const filler = Array.from({ length: 300 }, (_, i) => [i + 1, `row ${i + 1} `.padEnd(2000, 'x')])
          await put(s.storage, filler)
          filler.forEach(([id, v]) => model.set(id, v))
        }
        for (let commit = 0; commit < 12; commit++) {
          const changes = []
          for (let k = 0; k < 1 + random(4); k++) {
            const id = 1 + random(320)
            changes.push([id, random(5) === 0 ? null : `${life}.${commit}.${k} `.padEnd(random(3000), String.fromCharCode(97 + random(26)))])
          }
          await put(s.storage, changes)
          for (const [id, v] of changes) v === null ? model.delete(id) : model.set(id, v)
        }
        assert.deepEqual(contents(s.storage), model)
        databaseBytes = s.stats().databaseBytes
        await s.close()
        if (life > 0) {
          copied += s.stats().snapshotBytesCopied
          snapshots += s.stats().snapshots
        }
        await reopenedMatches(options, model)
      }
      assert.ok(snapshots >= 10, `only ${snapshots} snapshots`)
      assert.ok(copied / snapshots < databaseBytes / 4, `${copied} bytes copied over ${snapshots} snapshots of a ${databaseBytes}-byte database`)
    })
  })
}

test('after a failed snapshot, the next one copies the whole file: the chunks the failed one took are not lost', async () => {
  let failNext = false
  await withStore('file', {
    snapshotPolicy: { maxRecords: 1 },
    snapshotChunkBytes: CHUNK,
    openSnapshotDelayMs: 0,
    onSnapshotStep: step => {
      if (step === 'chunks-durable' && failNext) {
        failNext = false
        throw new Error('injected snapshot failure')
      }
    }
  }, async options => {
    const { model } = await firstLife(options, 100)

    const s = await createStorage(options)
    await s.storage.commit() // nothing to commit: lets the open's snapshot settle
    failNext = true
    await put(s.storage, [[5, 'first change']]) // its snapshot fails
    model.set(5, 'first change')
    while (s.stats().snapshotFailures === 0) await new Promise(resolve => setTimeout(resolve, 5))
    await put(s.storage, [[95, 'second change']]) // a chunk far from row 5's
    model.set(95, 'second change')
    await s.close()
    assert.equal(s.stats().snapshotFailures, 1)
    await reopenedMatches(options, model)
  })
})

// Without the pause the retries never stop, and this test does not finish.
test('a snapshot that keeps failing is retried after a growing pause, not at once in a loop', { timeout: 30_000 }, async () => {
  let attempts = 0
  await withStore('file', {
    snapshotPolicy: { maxRecords: 1 },
    snapshotChunkBytes: CHUNK,
    openSnapshotDelayMs: 1e9,
    onSnapshotStep: step => {
      if (step !== 'chunks-durable') return
      attempts++
      throw new Error('injected lasting snapshot failure (a full disk)')
    }
  }, async options => {
    const s = await createStorage(options)
    await execCommit(s.storage, 'CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)')
    for (let id = 1; id <= 5; id++) await put(s.storage, [[id, `row ${id}`]])
    await new Promise(resolve => setTimeout(resolve, 500))
    // One failure, then nothing until the pause (1 s) has passed: each attempt copies the whole file.
    assert.equal(attempts, 1, `${attempts} attempts in 0.5 s`)
    for (let i = 0; i < 200 && attempts < 2; i++) await new Promise(resolve => setTimeout(resolve, 10))
    assert.equal(attempts, 2, 'tried again once the pause passed')
    assert.equal(s.stats().snapshotFailures, 2)
    await s.close()
    await reopenedMatches(options, new Map([1, 2, 3, 4, 5].map(id => [id, `row ${id}`])))
  })
})

for (const kind of KINDS) {
  test(`${kind}: writes made while a snapshot copies its chunks do not reach it (it is the database as of its own commit)`, async () => {
    const policy = { maxRecords: 2, maxBytes: 1e9, minBytes: 1e9, maxReplayMs: 1e9 }
    await withStore(kind, { snapshotPolicy: policy, snapshotChunkBytes: CHUNK, snapshotSliceMs: 0, openSnapshotDelayMs: 1e9 }, async options => {
      const s = await createStorage(options)
      await execCommit(s.storage, 'CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)')
      const rowsOf = tag => Array.from({ length: 150 }, (_, i) => [i + 1, `${tag} ${i + 1} `.padEnd(900, tag)])
      await put(s.storage, rowsOf('a')) // the second record: its snapshot starts copying, a chunk a turn
      await put(s.storage, rowsOf('b')) // rewrites the same chunks meanwhile
      const durable = await s.durableState() // waits for the snapshot
      const stats = s.stats()
      try {
        assert.equal(stats.snapshots, 1)
        assert.equal(durable.records.length, 1, 'the snapshot is of the second record, the third follows it')
        const image = new Uint8Array(durable.imageBytes)
        let at = 0
        for await (const chunk of durable.chunks()) { image.set(chunk, at); at += chunk.length }
        const SQL = await loadSqlJs()
        const db = new SQL.Database(image)
        try {
          const got = new Map(db.exec('SELECT id, v FROM t ORDER BY id')[0].values.map(([id, v]) => [Number(id), v]))
          assert.deepEqual(got, new Map(rowsOf('a')))
        } finally {
          db.close()
        }
      } finally {
        durable.release()
      }
      await s.close()
    })
  })
}

test('when a watch cannot be relied on, snapshots export the whole database instead, and nothing is lost', async () => {
  await withStore('file', {}, async ({ dir }) => {
    const SQL = await loadSqlJs()
    const open = () => Storage.open(SQL, filePersistence({ dir, name: 'test', chunkBytes: CHUNK }), { snapshotPolicy: { maxRecords: 1 }, openSnapshotDelayMs: 1e9 })
    const s = await open()
    s.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)')
    await s.commit()
    await s.settled()
    assert.equal(s.stats().watchedWrites, true)
    s.fileWatch.broken = new Error('injected') // as FileCalls.fail marks it when its bookkeeping throws
    await put(s, [[1, 'one']])
    await s.settled()
    const stats = s.stats()
    assert.equal(stats.snapshotFailures, 0)
    assert.equal(stats.snapshots, 2)
    assert.equal(stats.watchedWrites, false)
    await s.close()
    const reopened = await open()
    assert.deepEqual(contents(reopened), new Map([[1, 'one']]))
    assert.equal(reopened.stats().replayed, 0)
    await reopened.close()
  })
})
