import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { IDBDatabase, IDBFactory, IDBKeyRange } from 'fake-indexeddb'
import { createStorage, withBytes } from './index.js'
import { execCommit, ids, insertId, int as intParam, result, rows, withStore } from './testkit.js'
import { encodeParams, decodeResult, TAG_INTEGER, TAG_TEXT, FLAG_COMMIT_REQUIRED } from './codec.js'

const text = s => ({ name: '', tag: TAG_TEXT, value: new TextEncoder().encode(s) })
const int = v => ({ name: '', tag: TAG_INTEGER, value: BigInt(v) })

async function write (storage, id, value) {
  storage.begin()
  result(storage, 'INSERT INTO kv (id, v) VALUES (?, ?)', [int(id), text(value)])
  await storage.commit()
}

async function persistenceRoundTrip (options) {
  let s = await createStorage(options)
  assert.equal(withBytes(s.storage).exec('CREATE TABLE kv (id INTEGER PRIMARY KEY, v TEXT)') instanceof Uint8Array, true)
  await s.storage.commit()
  await write(s.storage, 1, 'one')
  await write(s.storage, 2 ** 40, 'big')
  // An autocommitted write reports that it needs a commit.
  const res = result(s.storage, 'INSERT INTO kv (id, v) VALUES (3, ?)', [text('three')])
  assert.equal(res.flags & FLAG_COMMIT_REQUIRED, FLAG_COMMIT_REQUIRED)
  await s.storage.commit()
  // A rolled back write must not come back.
  s.storage.begin()
  result(s.storage, 'INSERT INTO kv (id, v) VALUES (4, ?)', [text('rolled back')])
  s.storage.rollback()
  await s.close()

  s = await createStorage(options)
  assert.deepEqual(rows(s.storage, 'SELECT id, v FROM kv ORDER BY id'), [[1n, 'one'], [3n, 'three'], [2n ** 40n, 'big']])
  await s.close()
}

test('file persistence: written data is there after close and reopen', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'hearth-storage-'))
  try {
    await persistenceRoundTrip({ persistence: 'file', dir, name: 'test' })
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

test('indexeddb persistence: written data is there after close and reopen', async () => {
  await persistenceRoundTrip({ persistence: 'indexeddb', name: 'test', indexedDB: new IDBFactory(), IDBKeyRange })
})

// A write transaction's journal transaction is opened when it begins
// (prepareAppend), so that the browser sets it up while the writes run.
test('indexeddb persistence: a commit uses the journal transaction opened at begin when in its task, its own otherwise', async () => {
  const options = { persistence: 'indexeddb', name: 'test', indexedDB: new IDBFactory(), IDBKeyRange }
  let s = await createStorage(options)
  await execCommit(s.storage, 'CREATE TABLE t (id INTEGER PRIMARY KEY)')
  const opened = []
  const transaction = IDBDatabase.prototype.transaction
  IDBDatabase.prototype.transaction = function (...args) {
    opened.push(String(args[0]))
    return transaction.apply(this, args)
  }
  const insert = (id) => result(s.storage, 'INSERT INTO t (id) VALUES (?)', [int(id)])
  const journal = () => opened.filter((store) => store === 'journal').length
  /** journal transactions opened by a write: before its commit, and in all */
  const transactionsOf = async (write) => {
    opened.length = 0
    let beforeCommit
    await write(() => {
      beforeCommit = journal()
      return s.storage.commit()
    })
    return [beforeCommit, journal()]
  }
  try {
    assert.deepEqual(await transactionsOf(async (commit) => {
      s.storage.begin()
      insert(1)
      await commit()
    }), [1, 1], 'begun and committed in one task: the transaction opened at begin takes the record')
    assert.deepEqual(await transactionsOf(async (commit) => {
      s.storage.begin()
      await new Promise((resolve) => setTimeout(resolve, 1))
      insert(2)
      await commit()
    }), [1, 2], 'the one opened at begin has ended: the commit opens its own')
    s.storage.begin()
    insert(3)
    s.storage.rollback()
    assert.deepEqual(await transactionsOf(async (commit) => {
      s.storage.begin()
      insert(4)
      await commit()
    }), [1, 1], 'after a rollback, the next write opens a fresh one at begin and uses it')
  } finally {
    IDBDatabase.prototype.transaction = transaction
  }
  await s.close()
  s = await createStorage(options)
  assert.deepEqual(ids(s.storage), [1, 2, 4])
  await s.close()
})

// sw.js opens storage while it waits for the server lock: the previous
// server may still be committing, so nothing is read before the lock is held.
test('indexeddb persistence with readAfter: the connection opens at once, the data is read after it', async () => {
  const factory = new IDBFactory()
  const options = { persistence: 'indexeddb', name: 'test', indexedDB: factory, IDBKeyRange }
  const previous = await createStorage(options)
  await execCommit(previous.storage, 'CREATE TABLE t (id INTEGER PRIMARY KEY)')
  let opens = 0
  const open = factory.open.bind(factory)
  factory.open = (...args) => { opens++; return open(...args) }
  let release
  const next = createStorage({ ...options, readAfter: new Promise((resolve) => { release = resolve }) })
  for (let i = 0; i < 200 && opens === 0; i++) await new Promise((resolve) => setTimeout(resolve, 5))
  assert.equal(opens, 1, 'the connection is opened before the lock is held')
  // The previous server's last write, committed while the next one waits.
  await insertId(previous.storage, 7)
  await previous.close()
  release()
  const s = await next
  assert.deepEqual(ids(s.storage), [7])
  await s.close()

  await assert.rejects(createStorage({ ...options, readAfter: Promise.reject(new Error('no lock')) }), /no lock/)
})

test('memory persistence starts empty each time', async () => {
  let s = await createStorage()
  await execCommit(s.storage, 'CREATE TABLE kv (id INTEGER PRIMARY KEY, v TEXT)')
  await s.close()
  s = await createStorage()
  assert.deepEqual(rows(s.storage, "SELECT count(*) FROM sqlite_master WHERE name = 'kv'"), [[0n]])
  await s.close()
})

test('errors cross as {name, message}', async () => {
  const s = await createStorage()
  assert.deepEqual(s.storage.prepare('SELEC 1'), { name: 'SQLiteError', message: 'near "SELEC": syntax error' })
  await execCommit(s.storage, 'CREATE TABLE u (x UNIQUE)')
  result(s.storage, 'INSERT INTO u VALUES (1)')
  await s.storage.commit()
  assert.equal(withBytes(s.storage).query('INSERT INTO u VALUES (1)', null).name, 'SQLiteConstraintError')
  assert.equal(s.storage.rollback().name, 'StorageTransactionError')
  assert.equal(s.storage.begin(), undefined)
  assert.equal(s.storage.begin().name, 'StorageTransactionError')
  s.storage.rollback()
  await s.close()
  assert.equal(s.storage.prepare('SELECT 1').name, 'StorageClosedError')
})

test('a quota error on persist undoes the commit and is named StorageQuotaError', async () => {
  const factory = new IDBFactory()
  {
    const s = await createStorage({ persistence: 'indexeddb', name: 'quota', indexedDB: factory, IDBKeyRange })
    await execCommit(s.storage, 'CREATE TABLE kv (id INTEGER PRIMARY KEY, v TEXT)')
    await write(s.storage, 1, 'kept')
    // Make the next IndexedDB write fail like a full quota does.
    const { IDBObjectStore } = await import('fake-indexeddb')
    const put = IDBObjectStore.prototype.put
    IDBObjectStore.prototype.put = function () {
      throw new DOMException('quota exceeded', 'QuotaExceededError')
    }
    try {
      s.storage.begin()
      result(s.storage, 'INSERT INTO kv (id, v) VALUES (2, ?)', [text('lost')])
      await assert.rejects(s.storage.commit(), err => err.name === 'StorageQuotaError')
    } finally {
      IDBObjectStore.prototype.put = put
    }
    // The failed commit is undone in memory too, and the storage still works.
    assert.deepEqual(rows(s.storage, 'SELECT id FROM kv ORDER BY id'), [[1n]])
    await write(s.storage, 3, 'after')
    assert.deepEqual(rows(s.storage, 'SELECT id FROM kv ORDER BY id'), [[1n], [3n]])
    assert.equal(s.stats().reloads, 1)
    await s.close()
  }
})

test('writes are refused while a commit is being persisted', async () => {
  const s = await createStorage()
  withBytes(s.storage).exec('CREATE TABLE kv (id INTEGER PRIMARY KEY, v TEXT)')
  const pending = s.storage.commit()
  assert.equal(s.storage.begin().name, 'StorageTransactionError')
  assert.ok(result(s.storage, 'SELECT count(*) FROM kv'), 'reads are allowed')
  await pending
  assert.equal(s.storage.begin(), undefined)
  s.storage.rollback()
  await s.close()
})

test('commitWaitMs adds up how long commits waited for durability, and stats() says the same', async () => {
  await withStore('file', {}, async (options) => {
    const s = await createStorage(options)
    assert.equal(s.commitWaitMs(), 0)
    withBytes(s.storage).exec('CREATE TABLE kv (id INTEGER PRIMARY KEY, v TEXT)')
    const started = performance.now()
    await s.storage.commit() // an append and an fdatasync
    const took = performance.now() - started
    const waited = s.commitWaitMs()
    assert.ok(waited > 0 && waited <= took, `waited ${waited} ms in a commit of ${took} ms`)
    assert.equal(s.stats().commitWaitMs, waited)
    s.storage.begin()
    s.storage.rollback() // nothing to make durable: no wait
    await s.storage.commit()
    assert.equal(s.commitWaitMs(), waited)
    await s.close()
  })
})

test('stats().databaseBytes follows the database as it grows', async () => {
  const s = await createStorage()
  const size = () => Number(rows(s.storage, 'SELECT page_count * page_size FROM pragma_page_count, pragma_page_size')[0][0])
  assert.equal(s.storage.stats().databaseBytes, size())
  await execCommit(s.storage, 'CREATE TABLE kv (id INTEGER PRIMARY KEY, v TEXT)')
  const before = s.storage.stats().databaseBytes
  s.storage.begin()
  for (let i = 0; i < 200; i++) result(s.storage, 'INSERT INTO kv (id, v) VALUES (?, ?)', [int(i), text('x'.repeat(1000))])
  await s.storage.commit()
  const after = s.storage.stats().databaseBytes
  assert.ok(after > before, `${after} > ${before}`)
  assert.equal(after, size())
  await s.close()
})

test('a journaled VACUUM (go/storage GiveBackFreedPages) replays at open, outside the transaction it cannot run in', async () => {
  for (const kind of ['file', 'indexeddb']) {
    await withStore(kind, { snapshotPolicy: null }, async (options) => {
      let s = await createStorage(options)
      await execCommit(s.storage, 'CREATE TABLE t (id INTEGER PRIMARY KEY, pad BLOB)')
      for (let i = 1; i <= 50; i++) {
        s.storage.begin()
        rows(s.storage, 'INSERT INTO t (id, pad) VALUES (?, zeroblob(3000))', [intParam(i)])
        await s.storage.commit()
      }
      await execCommit(s.storage, 'PRAGMA auto_vacuum = FULL; VACUUM')
      await insertId(s.storage, 51) // records before and after it
      s.storage.begin()
      rows(s.storage, 'DELETE FROM t WHERE id <= 40')
      await s.storage.commit()
      const size = Number(rows(s.storage, 'SELECT page_count FROM pragma_page_count')[0][0])
      await s.close()

      s = await createStorage(options) // no snapshot: the whole journal replays
      try {
        assert.deepEqual(ids(s.storage), [41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51])
        assert.equal(Number(rows(s.storage, 'PRAGMA auto_vacuum')[0][0]), 1)
        assert.equal(Number(rows(s.storage, 'SELECT page_count FROM pragma_page_count')[0][0]), size, 'freed pages are given back after replay too')
        assert.ok(size < 20, `${size} pages for 11 rows of 3 KB`)
      } finally {
        await s.close()
      }
    })
  }
})

// SQLite 3.54 marks a statement expired when its bindings are cleared, if
// its plan looked at a bound value. Once compiled again with bindings at hand
// (here after a schema change; in the server also without one), such a
// statement was compiled again on every run (a send's room read cost 248 µs
// in wasm, not 80).
test('a statement compiled again after a schema change is not compiled again on every run after it', async () => {
  const s = await createStorage({ persistence: 'memory' })
  try {
    await execCommit(s.storage, `CREATE TABLE data (user_id TEXT NOT NULL, pos INTEGER NOT NULL, content TEXT);
      CREATE INDEX data_by_user ON data (user_id, pos)`)
    const handle = s.storage.prepare('SELECT pos, content FROM data WHERE user_id = ? AND pos > ? AND pos <= ? ORDER BY pos')
    const read = (after) => decodeResult(withBytes(s.storage).run(handle, encodeParams([text('@alice:example.org'), int(after), int(after + 5)])))
    read(0)
    await execCommit(s.storage, 'CREATE TABLE other (x)')
    const before = s.storage.stats().statementsRecompiled
    for (let i = 1; i <= 6; i++) read(i)
    assert.equal(s.storage.stats().statementsRecompiled - before, 1, 'compiled again after the schema change only')
    // Bindings stay between runs: one a run leaves out is NULL again, as it was.
    const named = s.storage.prepare('SELECT :a, :b')
    const values = (params) => decodeResult(withBytes(s.storage).run(named, encodeParams(params))).rows[0]
    assert.deepEqual(values([{ ...int(1), name: 'a' }, { ...int(2), name: 'b' }]), [1n, 2n])
    assert.deepEqual(values([{ ...int(3), name: 'a' }]), [3n, null])
  } finally {
    await s.close()
  }
})

test('a prepared statement names its columns as they are after a schema change (names are kept between runs)', async () => {
  const s = await createStorage({ persistence: 'memory' })
  try {
    await execCommit(s.storage, 'CREATE TABLE kv (id INTEGER PRIMARY KEY, v TEXT)')
    const handle = s.storage.prepare('SELECT * FROM kv')
    const columns = () => decodeResult(withBytes(s.storage).run(handle, null)).columns
    assert.deepEqual(columns(), ['id', 'v'])
    assert.deepEqual(columns(), ['id', 'v'])
    await execCommit(s.storage, 'ALTER TABLE kv RENAME COLUMN v TO value')
    columns() // SQLite recompiles the statement when it next steps it
    assert.deepEqual(columns(), ['id', 'value'])
    await execCommit(s.storage, 'ALTER TABLE kv ADD COLUMN extra TEXT')
    columns()
    assert.deepEqual(columns(), ['id', 'value', 'extra'])
  } finally {
    await s.close()
  }
})
