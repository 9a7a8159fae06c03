import { test } from 'node:test'
import assert from 'node:assert/strict'
import { hearthP2P } from './bridge.js'
import { BRIDGE_VERSION } from '../bridge/globals.js'

test('hearthP2P forwards to the node and carries the bridge version', async () => {
  const calls = []
  const fake = {
    roundTrip: async (...args) => { calls.push(args); return { head: '{"status":200,"headers":[]}', body: new Uint8Array([1]) } },
    peers: () => ['12D3KooWA4Xop1JaT3MHxwYMkCepYsv4iPVopMXwCz5iHYdBfeSB']
  }
  const global = hearthP2P(fake)
  assert.equal(global.version, BRIDGE_VERSION)
  assert.deepEqual(global.peers(), fake.peers())
  const signal = AbortSignal.timeout(1000)
  const res = await global.roundTrip('12D3KooWX', { head: '{}', body: null }, { signal })
  assert.deepEqual(res.body, new Uint8Array([1]))
  assert.deepEqual(calls, [['12D3KooWX', { head: '{}', body: null }, { signal }]])
})
