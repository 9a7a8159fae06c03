// Two peers and a relay on 127.0.0.1: discovery, federation round trips,
// path filtering, a peer going away and coming back.
import './node-env.js'
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { createRelay } from '../relay/index.js'
import { createP2P, P2PNotRunningError, PeerUnreachableError } from './index.js'

const TEST_TIMEOUT = 30_000

/** An echo server standing in for Go's serve: returns the body and says who asked. */
async function echoServe (head, body) {
  return {
    status: 200,
    headers: [['content-type', 'application/octet-stream'], ['x-from-peer', head.peer], ['x-url', head.url]],
    body
  }
}

async function newKey () {
  return (await generateKeyPair('Ed25519')).raw
}

/** Runs fn with a relay and peers made by makePeer; stops everything whatever happens. */
async function withNetwork (fn) {
  const relay = createRelay({ port: 0 })
  const started = []
  await relay.start()
  const makePeer = async (key, serve = echoServe) => {
    const peer = createP2P({ privateKey: key ?? await newKey(), relayAddrs: relay.multiaddrs(), serve })
    started.push(peer)
    await peer.start()
    return peer
  }
  try {
    await fn({ relay, makePeer })
  } finally {
    await Promise.allSettled(started.map(p => p.stop()))
    await relay.stop()
  }
}

/** A request head; with origin, X-Matrix signed as that server (a request with a body must be). */
function request (method, url, body = null, origin = null) {
  const headers = [['content-type', 'application/json']]
  if (origin) headers.push(['authorization', `X-Matrix origin="${origin}",key="ed25519:p2p",sig="unchecked in JS"`])
  return { head: JSON.stringify({ method, url, headers }), body }
}

test('two peers find each other within seconds', { timeout: TEST_TIMEOUT }, async () => {
  await withNetwork(async ({ makePeer }) => {
    const began = Date.now()
    const a = await makePeer()
    const b = await makePeer()
    await a.waitForPeer(b.peerId, { signal: AbortSignal.timeout(3000) })
    await b.waitForPeer(a.peerId, { signal: AbortSignal.timeout(3000) })
    assert.ok(Date.now() - began < 3000, `discovery took ${Date.now() - began} ms`)
    assert.deepEqual(a.peers(), [b.peerId])
    assert.deepEqual(b.peers(), [a.peerId])
  })
})

test('a request reaches the other peer and 1 MiB of every byte value comes back intact', { timeout: TEST_TIMEOUT }, async () => {
  await withNetwork(async ({ makePeer }) => {
    const a = await makePeer()
    const b = await makePeer()
    await a.waitForPeer(b.peerId, { signal: AbortSignal.timeout(3000) })
    const body = new Uint8Array(1024 * 1024)
    for (let i = 0; i < body.length; i++) body[i] = (i * 7 + (i >> 8)) & 0xff
    const res = await a.roundTrip(b.peerId, request('PUT', '/_matrix/federation/v1/send/txn1', body, a.peerId))
    const head = JSON.parse(res.head)
    assert.equal(head.status, 200)
    assert.deepEqual(head.headers.find(([k]) => k === 'x-from-peer'), ['x-from-peer', a.peerId])
    assert.equal(res.body.byteLength, body.byteLength)
    assert.ok(Buffer.from(res.body).equals(Buffer.from(body)), 'body bytes differ')

    const empty = await a.roundTrip(b.peerId, request('GET', '/_matrix/key/v2/server'))
    assert.equal(JSON.parse(empty.head).status, 200)
    assert.equal(empty.body.byteLength, 0)
  })
})

test('paths outside the federation API are refused before they reach serve', { timeout: TEST_TIMEOUT }, async () => {
  await withNetwork(async ({ makePeer }) => {
    const served = []
    const a = await makePeer()
    const b = await makePeer(undefined, async (head, body) => { served.push(head.url); return echoServe(head, body) })
    await a.waitForPeer(b.peerId, { signal: AbortSignal.timeout(3000) })
    for (const url of ['/_matrix/client/v3/sync', '/_matrix/federation/../client/v3/sync',
      '/_matrix/federation/%2e%2e/client/v3/login', '/index.html', '/_matrix/keyx']) {
      const res = await a.roundTrip(b.peerId, request('GET', url))
      const head = JSON.parse(res.head)
      assert.equal(head.status, 403, url)
      assert.equal(JSON.parse(new TextDecoder().decode(res.body)).errcode, 'M_FORBIDDEN')
    }
    assert.deepEqual(served, [])
    const ok = await a.roundTrip(b.peerId, request('GET', '/_matrix/federation/v1/version'))
    assert.equal(JSON.parse(ok.head).status, 200)
    assert.deepEqual(served, ['/_matrix/federation/v1/version'])
  })
})

test('a peer that stops fails fast and is found again when it restarts', { timeout: TEST_TIMEOUT }, async () => {
  await withNetwork(async ({ makePeer }) => {
    const keyB = await newKey()
    const a = await makePeer()
    const b = await makePeer(keyB)
    await a.waitForPeer(b.peerId, { signal: AbortSignal.timeout(3000) })
    await a.roundTrip(b.peerId, request('GET', '/_matrix/federation/v1/version'))

    const left = new Promise(resolve => a.onPeers(e => { if (e.type === 'leave' && e.peerId === b.peerId) resolve() }))
    await b.stop()
    await Promise.race([left, rejectAfter(3000, 'A did not see B leave')])
    assert.deepEqual(a.peers(), [])

    const began = Date.now()
    await assert.rejects(a.roundTrip(b.peerId, request('GET', '/_matrix/federation/v1/version')),
      err => err instanceof PeerUnreachableError && err.name === 'PeerUnreachableError')
    assert.ok(Date.now() - began < 2000, `failing took ${Date.now() - began} ms`)

    const b2 = await makePeer(keyB)
    assert.equal(b2.peerId, b.peerId)
    await a.waitForPeer(b.peerId, { signal: AbortSignal.timeout(3000) })
    const res = await a.roundTrip(b.peerId, request('GET', '/_matrix/federation/v1/version'))
    assert.equal(JSON.parse(res.head).status, 200)
  })
})

test('errors are named: not running, not a peer ID, caller abort; a failing serve is a 500', { timeout: TEST_TIMEOUT }, async () => {
  await withNetwork(async ({ makePeer }) => {
    const idle = createP2P({ privateKey: await newKey(), relayAddrs: ['/ip4/127.0.0.1/tcp/1/ws/p2p/12D3KooWBVJTuNBRmN6p3qYWbsiJXPVW9A1p6UPZhtrCajM2WnJo'], serve: echoServe })
    await assert.rejects(idle.roundTrip(idle.peerId, request('GET', '/_matrix/key/v2/server')), P2PNotRunningError)

    const failing = await makePeer(undefined, async () => { throw new Error('Go fell over') })
    const slow = await makePeer(undefined, () => new Promise(() => {}))
    const a = await makePeer()
    await assert.rejects(a.roundTrip('example.org', request('GET', '/_matrix/key/v2/server')), PeerUnreachableError)
    await a.waitForPeer(failing.peerId, { signal: AbortSignal.timeout(3000) })
    const failed = await a.roundTrip(failing.peerId, request('GET', '/_matrix/key/v2/server'))
    assert.equal(JSON.parse(failed.head).status, 500)
    await a.waitForPeer(slow.peerId, { signal: AbortSignal.timeout(3000) })
    const controller = new AbortController()
    setTimeout(() => controller.abort(new Error('caller gave up')), 200)
    await assert.rejects(a.roundTrip(slow.peerId, request('GET', '/_matrix/key/v2/server'), { signal: controller.signal }),
      { message: 'caller gave up' })
  })
})

test('a peer whose relay restarts gets back on it and is found again', { timeout: TEST_TIMEOUT }, async () => {
  const relayKey = await newKey()
  let relay = createRelay({ port: 0, privateKey: relayKey })
  await relay.start()
  const addrs = relay.multiaddrs()
  const port = Number(addrs[0].split('/')[4])
  const peers = [
    createP2P({ privateKey: await newKey(), relayAddrs: addrs, serve: echoServe }),
    createP2P({ privateKey: await newKey(), relayAddrs: addrs, serve: echoServe })
  ]
  try {
    const [a, b] = peers
    const seen = []
    a.onRelays(relays => { if (seen.at(-1)?.[0] !== relays[0].online) seen.push(relays.map(r => r.online)) })
    assert.deepEqual(a.relays().map(r => [r.peerId, r.online]), [[relay.peerId, false]])
    await Promise.all(peers.map(p => p.start()))
    await a.waitForPeer(b.peerId, { signal: AbortSignal.timeout(3000) })
    assert.equal(a.relays()[0].online, true)
    await relay.stop()
    await waitUntil(() => a.peers().length === 0, 3000, 'A still lists B after the relay went away')
    await waitUntil(() => !a.relays()[0].online, 3000, 'A still says it is on the relay')
    relay = createRelay({ port, privateKey: relayKey })
    await relay.start()
    await a.waitForPeer(b.peerId, { signal: AbortSignal.timeout(10_000) })
    await waitUntil(() => a.relays()[0].online, 3000, 'A is not back on the relay')
    assert.deepEqual(seen, [[true], [false], [true]])
    const res = await a.roundTrip(b.peerId, request('GET', '/_matrix/federation/v1/version'))
    assert.equal(JSON.parse(res.head).status, 200)
  } finally {
    await Promise.allSettled(peers.map(p => p.stop()))
    await relay.stop()
  }
})

function rejectAfter (ms, message) {
  return new Promise((resolve, reject) => setTimeout(() => reject(new Error(message)), ms).unref())
}

async function waitUntil (predicate, ms, message) {
  const deadline = Date.now() + ms
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(message)
    await new Promise(resolve => setTimeout(resolve, 20))
  }
}

test('a peer started before its relay waits for it; stopping mid-dial leaves nothing behind', { timeout: TEST_TIMEOUT }, async () => {
  const relayKey = await newKey()
  const probe = createRelay({ port: 0, privateKey: relayKey })
  await probe.start()
  const addrs = probe.multiaddrs()
  const port = probe.port
  await probe.stop()

  const early = createP2P({ privateKey: await newKey(), relayAddrs: addrs, serve: echoServe })
  await early.start() // the relay is down: start must not fail
  await early.stop() // while its first dial may be in flight
  await new Promise(resolve => setTimeout(resolve, 300)) // a late socket error would crash the run here

  const a = createP2P({ privateKey: await newKey(), relayAddrs: addrs, serve: echoServe })
  const b = createP2P({ privateKey: await newKey(), relayAddrs: addrs, serve: echoServe })
  const relay = createRelay({ port, privateKey: relayKey })
  try {
    await a.start()
    await b.start()
    await new Promise(resolve => setTimeout(resolve, 200))
    await relay.start()
    await a.waitForPeer(b.peerId, { signal: AbortSignal.timeout(10_000) })
  } finally {
    await Promise.allSettled([a.stop(), b.stop()])
    await relay.stop()
  }
})
