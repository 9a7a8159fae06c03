// A headless peer started inside a larger program (a test, an embedding)
// ends its Go when it stops, instead of leaving it running beside (it went on
// polling the closed storage each second until the process exited).
import '../p2p/node-env.js'
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { startPeer } from './index.js'
import { callServe } from '../bridge/globals.js'
import { tempRoot } from './harness.js'

const wasm = pathToFileURL(join(import.meta.dirname, '../../dist/hearth.wasm'))
const quiet = { log () {}, warn () {}, error () {} }

async function versions () {
  const res = await callServe({ method: 'GET', url: '/_matrix/client/versions', headers: [] }, null)
  return res.status
}

test('a peer stopped in-process ends its Go, and the same directory starts again in the same process', async (t) => {
  const { root } = await tempRoot(t, 'hearth-stop-')
  const dataDir = join(root, 'data')
  const first = await startPeer({ dataDir, wasm, logger: quiet })
  assert.equal(await versions(), 200)
  await first.stop()
  await assert.rejects(versions(), /exited/, 'Go has exited: its serve function says so')

  const second = await startPeer({ dataDir, wasm, logger: quiet })
  try {
    assert.equal(second.serverName, first.serverName)
    assert.equal(await versions(), 200)
  } finally {
    await second.stop()
  }
})
