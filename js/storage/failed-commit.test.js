// A commit reported as failed never appears later (issue 11: "if the disk
// sync fails after a journal record was fully written, a reload replays it").
// Failures are injected after the record was written: the file's sync fails,
// or IndexedDB's transaction aborts after the put.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { open, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { IDBObjectStore } from 'fake-indexeddb'
import { createStorage } from './index.js'
import { execCommit, ids, insertId, withStore } from './testkit.js'

/** The prototype of node:fs/promises FileHandles, which file-persistence.js writes through. */
async function fileHandlePrototype () {
  const path = join(tmpdir(), `hearth-fh-${process.pid}`)
  const fh = await open(path, 'w')
  await fh.close()
  await rm(path)
  return Object.getPrototypeOf(fh)
}

/** Replaces proto[method] while fn runs. */
async function patched (proto, method, replacement, fn) {
  const original = proto[method]
  proto[method] = replacement(original)
  try {
    return await fn()
  } finally {
    proto[method] = original
  }
}

/**
 * Writes 1, fails 2 with `inject` around its commit, writes 3; checks that 2
 * is absent in memory, and after reopening.
 */
async function failedCommitStaysAbsent (options, inject) {
  let s = await createStorage(options)
  await execCommit(s.storage, 'CREATE TABLE t (id INTEGER PRIMARY KEY)')
  await insertId(s.storage, 1)
  await inject(() => assert.rejects(insertId(s.storage, 2), err => err.name === 'StoragePersistError'))
  assert.deepEqual(ids(s.storage), [1], 'the failed commit is visible after the in-memory reload')
  await insertId(s.storage, 3)
  await s.close()

  s = await createStorage(options)
  assert.deepEqual(ids(s.storage), [1, 3], 'the failed commit came back on reopening, or a later one was lost')
  await s.close()
}

test('file: a commit whose sync failed after its record was written does not come back', async () => {
  const proto = await fileHandlePrototype()
  const failOnce = original => {
    let failed = false
    return function (...args) {
      if (failed) return original.apply(this, args)
      failed = true
      return Promise.reject(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' }))
    }
  }
  await withStore('file', {}, options => failedCommitStaysAbsent(options, fn => patched(proto, 'datasync', failOnce, fn)))
})

test('indexeddb: a commit whose transaction aborted after the put does not come back', async () => {
  const abortAfterPut = original => function (...args) {
    const result = original.apply(this, args)
    this.transaction.abort()
    return result
  }
  await withStore('indexeddb', {}, options => failedCommitStaysAbsent(options, fn => patched(IDBObjectStore.prototype, 'put', abortAfterPut, fn)))
})

test('file: when the failed record cannot be removed either, the outcome is unknown and the storage closes', async () => {
  const proto = await fileHandlePrototype()
  const fail = () => () => Promise.reject(Object.assign(new Error('EIO: i/o error'), { code: 'EIO' }))
  await withStore('file', {}, async options => {
    let s = await createStorage(options)
    await execCommit(s.storage, 'CREATE TABLE t (id INTEGER PRIMARY KEY)')
    await insertId(s.storage, 1)
    await patched(proto, 'datasync', fail, () => patched(proto, 'truncate', fail, async () => {
      await assert.rejects(insertId(s.storage, 2), err => err.name === 'StorageOutcomeUnknownError')
    }))
    // Neither answer can be shown as the truth: nothing more is served until a restart reads the disk.
    assert.equal(s.storage.prepare('SELECT id FROM t').name, 'StorageClosedError')
    await s.close()

    s = await createStorage(options)
    assert.deepEqual(ids(s.storage).filter(id => id !== 2), [1], 'a durable commit was lost')
    await s.close()
  })
})
