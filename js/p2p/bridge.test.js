import { test } from 'node:test'
import assert from 'node:assert/strict'
import { hearthP2P } from './bridge.js'
import { BRIDGE_VERSION } from '../bridge/globals.js'

test('hearthP2P forwards to the node and carries the bridge version', async () => {
  const calls = []
  const fake = {
    roundTrip: async (...args) => { calls.push(['roundTrip', ...args]); return { head: '{"status":200,"headers":[]}', body: new Uint8Array([1]) } },
    deposit: async (...args) => { calls.push(['deposit', ...args]); return { relay: '12D3KooWR', expiresAt: 42 } },
    peers: () => ['12D3KooWA4Xop1JaT3MHxwYMkCepYsv4iPVopMXwCz5iHYdBfeSB'],
    watch: (peerIds) => { calls.push(['watch', peerIds]) }
  }
  const global = hearthP2P(fake)
  assert.equal(global.version, BRIDGE_VERSION)
  assert.equal(BRIDGE_VERSION, 6)
  assert.deepEqual(global.peers(), fake.peers())
  assert.deepEqual(calls, [], 'peers() without a list leaves the watched set alone')
  assert.deepEqual(global.peers(['12D3KooWA4Xop1JaT3MHxwYMkCepYsv4iPVopMXwCz5iHYdBfeSB']), fake.peers())
  assert.deepEqual(calls.splice(0), [['watch', ['12D3KooWA4Xop1JaT3MHxwYMkCepYsv4iPVopMXwCz5iHYdBfeSB']]])
  const signal = AbortSignal.timeout(1000)
  const res = await global.roundTrip('12D3KooWX', { head: '{}', body: null }, { signal })
  assert.deepEqual(res.body, new Uint8Array([1]))
  const sealed = new Uint8Array([9, 9])
  assert.deepEqual(await global.deposit('12D3KooWX', 'txn1', sealed, { signal }), { relay: '12D3KooWR', expiresAt: 42 })
  assert.deepEqual(calls, [
    ['roundTrip', '12D3KooWX', { head: '{}', body: null }, { signal }],
    ['deposit', '12D3KooWX', 'txn1', sealed, { signal }]
  ])
})

test('hearthP2P over a node without mailboxes refuses deposits with MailboxUnavailableError', async () => {
  const global = hearthP2P({ roundTrip: async () => {}, peers: () => [] })
  await assert.rejects(global.deposit('12D3KooWX', 'txn1', new Uint8Array(1)), { name: 'MailboxUnavailableError' })
})
