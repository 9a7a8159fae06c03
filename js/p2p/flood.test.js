// A peer flooding another with federation requests (issue 11, defect 14):
// heads are checked before bodies are read, and what one peer may have in
// flight is bounded, so it cannot starve the others.
import './node-env.js'
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { createRelay } from '../relay/index.js'
import { createP2P } from './index.js'

const TEST_TIMEOUT = 60_000
const BUDGET = 1024 * 1024

function signedRequest (origin, url, body) {
  const headers = [['authorization', `X-Matrix origin="${origin}",key="ed25519:p2p",sig="checked by Go"`]]
  return { head: JSON.stringify({ method: 'PUT', url, headers }), body }
}

async function withPeers (serve, fn) {
  const relay = createRelay({ port: 0 })
  await relay.start()
  const peers = []
  const make = async (options = {}) => {
    const peer = createP2P({ privateKey: (await generateKeyPair('Ed25519')).raw, relayAddrs: relay.multiaddrs(), serve, logger: {}, ...options })
    peers.push(peer)
    await peer.start()
    return peer
  }
  try {
    await fn(make)
  } finally {
    await Promise.allSettled(peers.map(p => p.stop()))
    await relay.stop()
  }
}

const statusOf = async (promise) => {
  try {
    return JSON.parse((await promise).head).status
  } catch (err) {
    return err.name // a reset stream: the body was refused unread
  }
}

test('one peer\'s requests in flight are bounded; another peer is still served meanwhile', { timeout: TEST_TIMEOUT }, async () => {
  let release
  const held = new Promise(resolve => { release = resolve })
  const inServe = new Map() // peer → bytes inside serve now
  let most = 0
  const serve = async (head, body) => {
    inServe.set(head.peer, (inServe.get(head.peer) ?? 0) + body.byteLength)
    most = Math.max(most, inServe.get(head.peer))
    if (head.url.includes('/flood/')) await held
    inServe.set(head.peer, inServe.get(head.peer) - body.byteLength)
    return { status: 200, headers: [], body: new Uint8Array(0) }
  }
  await withPeers(serve, async (make) => {
    const target = await make({ maxInFlightBytesPerPeer: BUDGET })
    const flooder = await make()
    const honest = await make()
    await flooder.waitForPeer(target.peerId, { signal: AbortSignal.timeout(5000) })
    await honest.waitForPeer(target.peerId, { signal: AbortSignal.timeout(5000) })

    const big = new Uint8Array(400 * 1024)
    const flood = Array.from({ length: 12 }, (_, i) =>
      statusOf(flooder.roundTrip(target.peerId, signedRequest(flooder.peerId, `/_matrix/federation/v1/flood/${i}`, big))))
    // While the flood is held inside serve, the honest peer's request goes through at once.
    await new Promise(resolve => setTimeout(resolve, 500))
    const began = Date.now()
    const honestStatus = await statusOf(honest.roundTrip(target.peerId, signedRequest(honest.peerId, '/_matrix/federation/v1/send/1', new Uint8Array(1000))))
    assert.equal(honestStatus, 200)
    assert.ok(Date.now() - began < 5000, `honest request took ${Date.now() - began} ms`)
    release()
    const statuses = await Promise.all(flood)
    const served = statuses.filter(s => s === 200).length
    // At most what fits the budget is served; under load the relayed
    // connection carrying the refused streams may be reset whole, taking the
    // held ones with it (seen about 1 run in 3 on a loaded 2-core machine).
    assert.ok(served <= 2, `flood statuses: ${statuses}`)
    assert.ok(statuses.every(s => s === 200 || s === 429 || s === 'PeerUnreachableError'), `flood statuses: ${statuses}`)
    assert.ok(most <= BUDGET, `${most} bytes of one peer's requests inside serve at once`)
  })
})

test('a head that may not reach Go is refused before its body: unsigned, or signed as another server', { timeout: TEST_TIMEOUT }, async () => {
  const served = []
  const serve = async (head) => { served.push(head.url); return { status: 200, headers: [], body: new Uint8Array(0) } }
  await withPeers(serve, async (make) => {
    const target = await make()
    const asker = await make()
    await asker.waitForPeer(target.peerId, { signal: AbortSignal.timeout(5000) })
    const body = new Uint8Array(64 * 1024)
    const unsigned = { head: JSON.stringify({ method: 'PUT', url: '/_matrix/federation/v1/send/1', headers: [] }), body }
    const impostor = signedRequest(target.peerId, '/_matrix/federation/v1/send/2', body)
    for (const request of [unsigned, impostor]) {
      const status = await statusOf(asker.roundTrip(target.peerId, request))
      assert.ok(status === 401 || status === 'PeerUnreachableError', `status ${status}`)
    }
    // Bodiless: the answer arrives in full.
    const res = await asker.roundTrip(target.peerId, { head: JSON.stringify({ method: 'GET', url: '/_matrix/federation/v1/query/x', headers: [['authorization', 'X-Matrix origin="someone-else",sig="x"']] }), body: null })
    assert.equal(JSON.parse(res.head).status, 401)
    assert.equal(JSON.parse(new TextDecoder().decode(res.body)).errcode, 'M_UNAUTHORIZED')
    assert.deepEqual(served, [])
  })
})
