// One peer, several relays: online on each, and stop() returns promptly
// whatever the relays are doing (issue 17, the two small defects).
import './node-env.js'
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer } from 'node:net'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { createRelay } from '../relay/index.js'
import { createP2P } from './index.js'

const quiet = { log () {}, info () {}, warn () {}, debug () {} }
const serve = async () => ({ status: 200, headers: [], body: null })

async function newKey () {
  return (await generateKeyPair('Ed25519')).raw
}

async function startRelays (n) {
  const relays = Array.from({ length: n }, () => createRelay({ port: 0, logger: quiet }))
  await Promise.all(relays.map(r => r.start()))
  return relays
}

async function waitUntil (predicate, ms, message) {
  const deadline = Date.now() + ms
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(message())
    await new Promise(resolve => setTimeout(resolve, 20))
  }
}

/** ms that fn took; fails past limitMs without waiting any longer than that. */
async function timed (fn, limitMs, what) {
  const began = Date.now()
  let timer
  await Promise.race([fn(), new Promise((resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took over ${limitMs} ms`)), limitMs)
  })]).finally(() => clearTimeout(timer))
  return Date.now() - began
}

test('a peer given three relays is online on each, and two peers on different relays find each other', { timeout: 30_000 }, async () => {
  const relays = await startRelays(3)
  const addrs = relays.map(r => r.multiaddrs()[0])
  const a = createP2P({ privateKey: await newKey(), relayAddrs: addrs, serve, logger: quiet })
  const b = createP2P({ privateKey: await newKey(), relayAddrs: [addrs[2]], serve, logger: quiet })
  try {
    await Promise.all([a.start(), b.start()])
    await waitUntil(() => a.relays().every(r => r.online), 10_000, () => `not online everywhere: ${JSON.stringify(a.relays())}`)
    assert.deepEqual(a.relays().map(r => r.peerId), relays.map(r => r.peerId))
    // B is only on the third relay: A learns of it there, which it never did while stuck on the first
    await a.waitForPeer(b.peerId, { signal: AbortSignal.timeout(5000) })
    const ms = await timed(() => a.stop(), 5000, 'stop with three relays up')
    assert.ok(ms < 5000)
    assert.ok(a.relays().every(r => !r.online), 'still online after stop')
  } finally {
    await Promise.allSettled([a.stop(), b.stop()])
    await Promise.allSettled(relays.map(r => r.stop()))
  }
})

test('stop() returns within 5 s with the relays gone, dying at that moment, or never answering', { timeout: 60_000 }, async (t) => {
  // a "relay" that accepts TCP and never answers the WebSocket upgrade
  const accepted = new Set()
  const silent = createServer(socket => { accepted.add(socket); socket.on('close', () => accepted.delete(socket)) })
  await new Promise(resolve => silent.listen(0, '127.0.0.1', resolve))
  t.after(() => { for (const socket of accepted) socket.destroy(); silent.close() })
  const silentAddr = `/ip4/127.0.0.1/tcp/${silent.address().port}/ws/p2p/12D3KooWBVJTuNBRmN6p3qYWbsiJXPVW9A1p6UPZhtrCajM2WnJo`

  for (const when of ['gone before', 'dying together', 'never answering']) {
    const relays = await startRelays(2)
    const addrs = relays.map(r => r.multiaddrs()[0])
    if (when === 'never answering') addrs.push(silentAddr)
    const peer = createP2P({ privateKey: await newKey(), relayAddrs: addrs, serve, logger: quiet })
    try {
      await peer.start()
      await waitUntil(() => peer.relays().filter(r => r.online).length === 2, 10_000, () => `${when}: not online on both relays`)
      let ms
      if (when === 'gone before') {
        await Promise.all(relays.map(r => r.stop()))
        await waitUntil(() => peer.relays().every(r => !r.online), 5000, () => `${when}: still online`)
        ms = await timed(() => peer.stop(), 5000, `stop, relays ${when}`)
      } else {
        ms = await timed(() => Promise.all([peer.stop(), ...relays.map(r => r.stop())]), 5000, `stop, relays ${when}`)
      }
      t.diagnostic(`relays ${when}: stopped in ${ms} ms`)
    } finally {
      await Promise.allSettled([peer.stop(), ...relays.map(r => r.stop())])
    }
  }
})

