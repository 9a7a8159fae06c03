// Long-lived federation streams (request-streams.js, issue 17): requests to a
// peer share one stream, a broken one is replaced, and peers that speak only
// the one-stream-per-request protocol still federate both ways.
import './node-env.js'
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromString } from '@libp2p/peer-id'
import { createRelay } from '../relay/index.js'
import { createP2P, FEDERATION_PROTOCOL, FEDERATION_STREAM_PROTOCOL } from './index.js'
import { ask } from './exchange.js'

const TEST_TIMEOUT = 30_000

async function echoServe (head, body) {
  return { status: 200, headers: [['x-from-peer', head.peer]], body }
}

/** A relay and two peers, a asking b; counts the streams a opens, by protocol. */
async function withPair (fn) {
  const relay = createRelay({ port: 0 })
  await relay.start()
  const peers = []
  try {
    for (let i = 0; i < 2; i++) {
      const peer = createP2P({ privateKey: (await generateKeyPair('Ed25519')).raw, relayAddrs: relay.multiaddrs(), serve: echoServe })
      peers.push(peer)
      await peer.start()
    }
    const [a, b] = peers
    await a.waitForPeer(b.peerId, { signal: AbortSignal.timeout(5000) })
    const opened = []
    const dialProtocol = a.libp2p.dialProtocol.bind(a.libp2p)
    a.libp2p.dialProtocol = async (...args) => {
      const stream = await dialProtocol(...args)
      opened.push(stream.protocol)
      return stream
    }
    await fn({ a, b, opened })
  } finally {
    await Promise.allSettled(peers.map(p => p.stop()))
    await relay.stop()
  }
}

function request (from, n) {
  return {
    head: JSON.stringify({ method: 'PUT', url: `/_matrix/federation/v1/send/${n}`, headers: [['authorization', `X-Matrix origin="${from.peerId}",key="ed25519:p2p",sig="unchecked in JS"`]] }),
    body: new TextEncoder().encode(`request ${n} `.repeat(100))
  }
}

async function roundTrips (a, b, from, count) {
  for (let n = from; n < from + count; n++) {
    const response = await a.roundTrip(b.peerId, request(a, n))
    assert.equal(JSON.parse(response.head).status, 200)
    assert.equal(new TextDecoder().decode(response.body), `request ${n} `.repeat(100), `answer ${n} is its own`)
  }
}

/** b's end of a's federation streams, by protocol. */
function streamsAt (b, a, protocol) {
  return b.libp2p.getConnections(peerIdFromString(a.peerId)).flatMap(c => c.streams).filter(s => s.protocol === protocol)
}

test('50 requests one after another share one stream; 8 at once use at most 8, then stay reused', { timeout: TEST_TIMEOUT }, async () => {
  await withPair(async ({ a, b, opened }) => {
    await roundTrips(a, b, 0, 50)
    assert.deepEqual(opened, [FEDERATION_STREAM_PROTOCOL], 'one stream for 50 requests')
    assert.equal(streamsAt(b, a, FEDERATION_STREAM_PROTOCOL).length, 1)

    const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => a.roundTrip(b.peerId, request(a, 100 + i))))
    answers.forEach((response, i) => assert.equal(new TextDecoder().decode(response.body), `request ${100 + i} `.repeat(100)))
    assert.ok(opened.length <= 8, `${opened.length} streams for 8 concurrent requests`)
    const afterBurst = opened.length
    await roundTrips(a, b, 200, 20)
    assert.equal(opened.length, afterBurst, 'later requests reuse the idle streams')
    assert.ok(streamsAt(b, a, FEDERATION_STREAM_PROTOCOL).length <= 4, 'at most 4 idle streams are kept')
  })
})

test('a stream the peer broke is replaced: the next request succeeds on a new one', { timeout: TEST_TIMEOUT }, async () => {
  await withPair(async ({ a, b, opened }) => {
    await roundTrips(a, b, 0, 3)
    assert.equal(opened.length, 1)
    for (const stream of streamsAt(b, a, FEDERATION_STREAM_PROTOCOL)) stream.abort(new Error('broken on purpose'))
    await roundTrips(a, b, 3, 3)
    assert.deepEqual(opened, [FEDERATION_STREAM_PROTOCOL, FEDERATION_STREAM_PROTOCOL], 'one new stream, then reused')

    // closed politely by the peer while idle: also replaced, nothing fails
    for (const stream of streamsAt(b, a, FEDERATION_STREAM_PROTOCOL)) await stream.close()
    await roundTrips(a, b, 6, 3)
    assert.equal(opened.length, 3)
  })
})

test('a peer that speaks only the one-stream-per-request protocol is still asked, one stream each', { timeout: TEST_TIMEOUT }, async () => {
  await withPair(async ({ a, b, opened }) => {
    await b.libp2p.unhandle(FEDERATION_STREAM_PROTOCOL) // b is an older Hearth
    await roundTrips(a, b, 0, 3)
    assert.deepEqual(opened, [FEDERATION_PROTOCOL, FEDERATION_PROTOCOL, FEDERATION_PROTOCOL])
  })
})

test('an older asker (one stream per request) is still answered', { timeout: TEST_TIMEOUT }, async () => {
  await withPair(async ({ a, b }) => {
    for (let n = 0; n < 2; n++) {
      const stream = await a.dial(b.peerId, FEDERATION_PROTOCOL)
      const response = await ask(stream, request(a, n), { peerId: b.peerId, timeoutMs: 5000 })
      assert.equal(JSON.parse(response.head).status, 200)
      assert.equal(new TextDecoder().decode(response.body), `request ${n} `.repeat(100))
    }
  })
})

test('40 requests at once: at most 32 streams, the rest wait for one to come free, every answer its own', { timeout: TEST_TIMEOUT }, async () => {
  await withPair(async ({ a, b, opened }) => {
    await roundTrips(a, b, 1000, 1) // the relayed connection is up
    const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => a.roundTrip(b.peerId, request(a, i))))
    answers.forEach((response, i) => assert.equal(new TextDecoder().decode(response.body), `request ${i} `.repeat(100)))
    assert.ok(opened.length <= 32, `${opened.length} streams for 40 concurrent requests`)
    // the ones not kept are closed; b sees it a moment later
    const until = Date.now() + 5000
    while (streamsAt(b, a, FEDERATION_STREAM_PROTOCOL).length > 4 && Date.now() < until) await new Promise(resolve => setTimeout(resolve, 50))
    assert.ok(streamsAt(b, a, FEDERATION_STREAM_PROTOCOL).length <= 4, 'at most 4 kept once idle')
  })
})

test('40 requests at once to a peer not connected yet all succeed: the first stream is opened before the others', { timeout: TEST_TIMEOUT }, async () => {
  // 16 streams negotiated at once on a relayed connection still being set up
  // were reset (one stream per request had the same failure)
  await withPair(async ({ a, b, opened }) => {
    const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => a.roundTrip(b.peerId, request(a, i))))
    answers.forEach((response, i) => assert.equal(new TextDecoder().decode(response.body), `request ${i} `.repeat(100)))
    assert.ok(opened.length <= 32, `${opened.length} streams`)
  })
})
