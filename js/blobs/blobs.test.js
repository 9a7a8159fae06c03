// hearthBlobs on each persistence: the contract Go relies on (go/bridge/blobs_js.go).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, mkdir, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { IDBFactory, IDBKeyRange } from 'fake-indexeddb'
import { createBlobStore, validKey } from './index.js'
import { BRIDGE_VERSION } from '../bridge/globals.js'

async function withDir (fn) {
  const dir = await mkdtemp(join(tmpdir(), 'hearth-blobs-'))
  try { return await fn(dir) } finally { await rm(dir, { recursive: true, force: true }) }
}

const kinds = {
  memory: fn => fn({ persistence: 'memory' }),
  indexeddb: fn => fn({ persistence: 'indexeddb', name: 'test', indexedDB: new IDBFactory(), IDBKeyRange }),
  file: fn => withDir(dir => fn({ persistence: 'file', dir }))
}

for (const [kind, withOptions] of Object.entries(kinds)) {
  test(`${kind}: put, get, replace, delete and keys; bad keys refused by name`, () => withOptions(async (options) => {
    const { blobs, close } = await createBlobStore(options)
    assert.equal(blobs.version, BRIDGE_VERSION)
    const picture = new Uint8Array(1 << 20).map((_, i) => i % 251)
    await blobs.put('local/abc', picture)
    await blobs.put('remote/them.example:8448/x-Y_1', new Uint8Array([1, 2]))
    assert.deepEqual(await blobs.get('local/abc'), picture)
    await blobs.put('local/abc', new Uint8Array([7]))
    assert.deepEqual(await blobs.get('local/abc'), new Uint8Array([7]))
    assert.equal(await blobs.get('local/none'), null)
    await blobs.put('event/12', new Uint8Array([123, 125]))
    assert.deepEqual((await blobs.keys()).sort(), ['event/12', 'local/abc', 'remote/them.example:8448/x-Y_1'])
    assert.deepEqual(await blobs.keys('local/'), ['local/abc'])
    assert.deepEqual(await blobs.keys('event/'), ['event/12'])
    await blobs.delete('event/12')
    assert.deepEqual(await blobs.keys('event/'), [])
    await assert.rejects(blobs.keys('loc'), { name: 'BlobKeyError' })
    await blobs.delete('local/abc')
    await blobs.delete('local/abc') // missing: no error
    assert.equal(await blobs.get('local/abc'), null)
    for (const key of ['', 'local/', 'local/../x', 'remote/../local/x', 'remote/a/b/c', 'other/x', 'local/a b', 42]) {
      await assert.rejects(blobs.put(key, new Uint8Array(1)), { name: 'BlobKeyError' }, String(key))
    }
    await close()
    if (kind === 'file') { // durable: a new store on the same directory has it
      const again = await createBlobStore(options)
      assert.deepEqual(await again.blobs.get('remote/them.example:8448/x-Y_1'), new Uint8Array([1, 2]))
    }
  }))
}

test('file: a put a crash interrupted is removed on open and never listed', () => withDir(async (dir) => {
  await mkdir(join(dir, 'local'))
  await writeFile(join(dir, 'local', '.put-1a2b'), 'half a picture')
  const { blobs } = await createBlobStore({ persistence: 'file', dir })
  assert.deepEqual(await blobs.keys(), [])
  assert.deepEqual(await readdir(join(dir, 'local')), [])
}))

test('file: a failed put is a StoragePersistError and leaves nothing', () => withDir(async (dir) => {
  const { blobs } = await createBlobStore({ persistence: 'file', dir })
  await writeFile(join(dir, 'remote'), 'a file where a directory must be')
  await assert.rejects(blobs.put('remote/x/y', new Uint8Array(1)), { name: 'StoragePersistError' })
  assert.deepEqual(await blobs.keys(), [])
}))

test('keys are checked as go/media/keys.go checks them', () => {
  assert.ok(validKey('local/AZaz09_-'))
  assert.ok(validKey('remote/[::1]:8448/abc'))
  assert.ok(!validKey('remote/./abc'))
  assert.ok(!validKey('remote/../abc'))
  assert.ok(validKey('event/1'))
  assert.ok(validKey('event/9223372036854775807'))
  for (const key of ['event/0', 'event/01', 'event/-1', 'event/1a', 'event/1/2', 'event/']) assert.ok(!validKey(key), key)
})
