// The relay's per-peer byte rate (throttle.js, issue 11 "the relay under
// load"): a peer sending a large body through the relay is paced to its rate,
// its body arrives whole, and another peer's small request is not held up.
import '../p2p/node-env.js'
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { createRelay } from './index.js'
import { RELAY_STREAM_WINDOW } from './throttle.js'
import { createP2P } from '../p2p/index.js'

const RATE = 512 * 1024
const BURST = 256 * 1024
const BIG = 3 * 1024 * 1024

test('a peer past its byte rate is paced through the relay, intact, while another peer answers quickly', { timeout: 30_000 }, async () => {
  const relay = createRelay({ port: 0, limits: { maxRelayedBytesPerSecondPerPeer: RATE, maxRelayedBurstBytesPerPeer: BURST } })
  await relay.start()
  const received = []
  const serve = async (head, body) => {
    received.push(body)
    return { status: 200, headers: [], body: new Uint8Array(0) }
  }
  const peers = []
  for (let i = 0; i < 4; i++) peers.push(createP2P({ privateKey: (await generateKeyPair('Ed25519')).raw, relayAddrs: relay.multiaddrs(), serve }))
  const [flooder, target, asker, answerer] = peers
  const request = (from, body) => ({
    head: JSON.stringify({ method: 'PUT', url: '/_matrix/federation/v1/send/1', headers: [['authorization', `X-Matrix origin="${from.peerId}",key="ed25519:p2p",sig="unchecked in JS"`]] }),
    body
  })
  try {
    await Promise.all(peers.map(p => p.start()))
    await flooder.waitForPeer(target.peerId, { signal: AbortSignal.timeout(5000) })
    await asker.waitForPeer(answerer.peerId, { signal: AbortSignal.timeout(5000) })
    await asker.roundTrip(answerer.peerId, request(asker, new Uint8Array(256))) // the relayed connection is up

    const big = new Uint8Array(BIG)
    for (let i = 0; i < big.length; i++) big[i] = i % 251
    const began = performance.now()
    let bigDone = null
    const sending = flooder.roundTrip(target.peerId, request(flooder, big)).then(res => { bigDone = performance.now(); return res })
    sending.catch(() => {}) // awaited below; not unhandled while the other request runs
    await new Promise(resolve => setTimeout(resolve, 1000)) // well into the paced part
    assert.equal(bigDone, null, 'the large body is still being paced')
    const asked = performance.now()
    const small = await asker.roundTrip(answerer.peerId, request(asker, new Uint8Array(256)))
    const smallMs = performance.now() - asked
    assert.equal(JSON.parse(small.head).status, 200)
    assert.ok(smallMs < 1000, `another peer's small request took ${Math.round(smallMs)} ms`)

    const res = await sending
    assert.equal(JSON.parse(res.head).status, 200)
    const seconds = (bigDone - began) / 1000
    // what the rate allows, less one receive window: the bytes the sender was
    // granted before the relay paused it arrive and are charged after (the
    // debt is paid by pausing later, but the last window is not waited for);
    // yamux grants the window in halves (js/p2p/yamux.js), up to RELAY_STREAM_WINDOW
    const least = (BIG - BURST - RELAY_STREAM_WINDOW) / RATE // 3.5 s
    assert.ok(seconds >= least * 0.95, `3 MiB went in ${seconds.toFixed(2)} s, the rate allows no less than ${least} s`)
    assert.ok(seconds < least * 2 + 2, `paced far below the rate: ${seconds.toFixed(2)} s`)
    const body = received.find(b => b.byteLength === BIG)
    assert.ok(body != null, 'the large body arrived whole')
    assert.deepEqual(body, big)
  } finally {
    await Promise.allSettled(peers.map(p => p.stop()))
    await relay.stop()
  }
})
