/**
 * Helpers the storage tests share (not part of the package's API): running
 * SQL through the bridge shape, and storage options for each persistence.
 */

import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { IDBFactory, IDBKeyRange } from 'fake-indexeddb'
import { encodeParams, decodeResult, TAG_INTEGER } from './codec.js'
import { withBytes } from './index.js'
import { Storage } from './storage.js'

export const int = v => ({ name: '', tag: TAG_INTEGER, value: BigInt(v) })

/** The bridge shape called with bytes; a Storage (storage.js) is called so already. */
const withBytesOf = storage => storage instanceof Storage ? storage : withBytes(storage)

/** A call's encoded result, or its {name, message} thrown as a named Error. */
function succeeded (res) {
  if (!(res instanceof Uint8Array)) throw Object.assign(new Error(res.message), { name: res.name })
  return res
}

/** Runs sql through the bridge shape (or a Storage); returns the decoded result, throwing named errors. */
export function result (storage, sql, params = []) {
  return decodeResult(succeeded(withBytesOf(storage).query(sql, params.length ? encodeParams(params) : null)))
}

/** result's rows. */
export const rows = (storage, sql, params) => result(storage, sql, params).rows

/** Inserts id into table t (id INTEGER PRIMARY KEY) in a transaction of its own. */
export async function insertId (storage, id) {
  storage.begin()
  rows(storage, 'INSERT INTO t (id) VALUES (?)', [int(id)])
  await storage.commit()
}

/** The ids in table t, in order. */
export const ids = storage => rows(storage, 'SELECT id FROM t ORDER BY id').map(r => Number(r[0]))

/** Runs a script and commits it. */
export async function execCommit (storage, sql) {
  succeeded(withBytesOf(storage).exec(sql))
  await storage.commit()
}

/**
 * Calls fn with createStorage options for a fresh store of `kind` ('file' in
 * a temporary directory, removed afterwards; 'indexeddb' in a fake IndexedDB
 * of its own), plus `extra`.
 */
export async function withStore (kind, extra, fn) {
  if (kind === 'indexeddb') {
    return fn({ persistence: 'indexeddb', name: 'test', indexedDB: new IDBFactory(), IDBKeyRange, ...extra })
  }
  const dir = await mkdtemp(join(tmpdir(), 'hearth-storage-'))
  try {
    return await fn({ persistence: 'file', dir, name: 'test', ...extra })
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}
