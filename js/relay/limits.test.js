// The relay's count limits (issue 11, defect 2): a slot is freed when its peer
// leaves, one IP cannot take every slot, and connections per peer and per IP
// are bounded. Everything is on 127.0.0.1, so "one IP" is every peer here.
import '../p2p/node-env.js'
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { noise } from '@libp2p/noise'
import { yamux } from '@libp2p/yamux'
import { webSockets } from '@libp2p/websockets'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { createRelay } from './index.js'
import { ipOf } from './limits.js'
import { createP2P } from '../p2p/index.js'

const quiet = { log () {}, info () {}, warn () {} }

async function waitUntil (condition, ms, message) {
  const deadline = Date.now() + ms
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(message)
    await new Promise(resolve => setTimeout(resolve, 25))
  }
}

/** Runs fn with a relay of the given limits; newPeer makes Hearth peers on it (not started). */
async function withRelay (limits, fn) {
  const relay = createRelay({ port: 0, logger: quiet, limits })
  await relay.start()
  const made = []
  const newPeer = async () => {
    const peer = createP2P({
      privateKey: (await generateKeyPair('Ed25519')).raw,
      relayAddrs: relay.multiaddrs(),
      serve: async () => ({ status: 200, headers: [], body: new Uint8Array() }),
      logger: quiet
    })
    made.push(peer)
    return peer
  }
  try {
    await fn({ relay, newPeer, reservations: () => relay.libp2p.services.relay.reservations.size })
  } finally {
    await Promise.allSettled(made.map(p => p.stop()))
    await relay.stop()
  }
}

const reserved = peer => peer.relays()[0].online

test('a reservation is freed when its peer disconnects: with 3 slots, a fourth peer gets one after the holders left', { timeout: 30_000 }, async () => {
  await withRelay({ maxReservations: 3 }, async ({ newPeer, reservations }) => {
    const holders = await Promise.all([newPeer(), newPeer(), newPeer()])
    await Promise.all(holders.map(p => p.start()))
    await waitUntil(() => holders.every(reserved), 10_000, 'the first three peers did not all get a slot')
    assert.equal(reservations(), 3)

    await Promise.all(holders.map(p => p.stop()))
    await waitUntil(() => reservations() === 0, 3000, `${reservations()} slots still held after every holder disconnected`)
    const latecomer = await newPeer()
    await latecomer.start()
    await waitUntil(() => reserved(latecomer), 3000, 'the fourth peer got no slot')
  })
})

test('one IP holds at most maxReservationsPerIp slots while others are free, and gets one back when a holder leaves', { timeout: 30_000 }, async () => {
  await withRelay({ maxReservations: 6, maxReservationsPerIp: 2 }, async ({ newPeer, reservations }) => {
    const peers = await Promise.all([newPeer(), newPeer(), newPeer()])
    await Promise.all(peers.map(p => p.start()))
    await waitUntil(() => peers.filter(reserved).length >= 2, 10_000, 'two peers did not get a slot')
    // the third keeps asking (backoff from 0.5 s): give it time to be refused
    await new Promise(resolve => setTimeout(resolve, 1500))
    assert.equal(peers.filter(reserved).length, 2)
    assert.equal(reservations(), 2, 'a third reservation from one IP was accepted with 4 slots free')

    const holder = peers.find(reserved)
    const waiting = peers.find(p => !reserved(p))
    await holder.stop()
    await waitUntil(() => reserved(waiting), 10_000, 'the refused peer got no slot after a holder from its IP left')
  })
})

test('connections are bounded per peer and per IP', { timeout: 30_000 }, async () => {
  await withRelay({ maxConnectionsPerPeer: 2, maxConnectionsPerIp: 3 }, async ({ relay }) => {
    const relayAddr = multiaddr(relay.multiaddrs()[0])
    const clients = []
    /**
     * A bare libp2p node dialing the relay `times` times, each a new connection.
     * A dial refused after noise can still succeed on the dialer's side (it
     * finishes the handshake first, then sees the connection close), so the
     * test counts what the relay keeps open.
     */
    const dialTimes = async (times) => {
      const client = await createLibp2p({
        transports: [webSockets()],
        connectionEncrypters: [noise()],
        streamMuxers: [yamux()],
        connectionGater: { denyDialMultiaddr: () => false }
      })
      clients.push(client)
      for (let i = 0; i < times; i++) await client.dial(relayAddr, { force: true, signal: AbortSignal.timeout(3000) }).catch(() => {})
      await new Promise(resolve => setTimeout(resolve, 300)) // the relay's side of the last dial settles
      return client.peerId
    }
    const open = peer => relay.libp2p.getConnections(peer).length
    try {
      const first = await dialTimes(4)
      assert.equal(open(first), 2, 'one peer kept more than maxConnectionsPerPeer')
      const second = await dialTimes(2)
      assert.equal(open(second), 1)
      assert.equal(relay.libp2p.getConnections().length, 3, 'one IP kept more than maxConnectionsPerIp')

      // closed connections make room again
      await relay.libp2p.hangUp(first)
      await waitUntil(() => relay.libp2p.getConnections().length === 1, 3000, 'the relay kept closed connections')
      const third = await dialTimes(1)
      assert.equal(open(third), 1)
    } finally {
      await Promise.allSettled(clients.map(c => c.stop()))
    }
  })
})

test('limits count an IPv4 address, or an IPv6 /64, as one IP', () => {
  const cases = [
    ['/ip4/203.0.113.7/tcp/443/ws', '203.0.113.7'],
    ['/ip6/2001:db8:1:2:3:4:5:6/tcp/443/ws', '2001:db8:1:2::/64'],
    ['/ip6/2001:db8:1:2::9/tcp/443/ws', '2001:db8:1:2::/64'],
    ['/ip6/2001:db8::5/tcp/443/ws', '2001:db8:0:0::/64'],
    ['/ip6/::1/tcp/443/ws', '0:0:0:0::/64'],
    ['/ip6/::ffff:203.0.113.7/tcp/443/ws', '203.0.113.7'],
    ['/dns4/relay.example/tcp/443/wss', undefined]
  ]
  for (const [addr, ip] of cases) assert.equal(ipOf(multiaddr(addr)), ip, addr)
})
