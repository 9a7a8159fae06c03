import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { IDBFactory } from 'fake-indexeddb'
import { fileRelayBook, indexedDBRelayBook } from './relay-book.js'

const addrs = ['/ip4/127.0.0.1/tcp/1/ws/p2p/12D3KooWA', '/ip4/127.0.0.1/tcp/2/ws/p2p/12D3KooWB']

test('a relay book keeps what was saved last, in IndexedDB and in a file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'hearth-relay-book-'))
  try {
    for (const book of [indexedDBRelayBook({ indexedDB: new IDBFactory() }), fileRelayBook(join(dir, 'relays.json'))]) {
      assert.deepEqual(await book.load(), [], 'empty before anything is saved')
      await book.save(addrs)
      await book.save(addrs.slice(1))
      assert.deepEqual(await book.load(), addrs.slice(1))
    }
    await writeFile(join(dir, 'odd.json'), '{"not": "a list"}')
    assert.deepEqual(await fileRelayBook(join(dir, 'odd.json')).load(), [], 'not a list: nothing kept')
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})
