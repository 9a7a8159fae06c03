// Presence lists only peers that hold a reservation (issue 11, defect 7): a
// node that subscribed without reserving cannot be dialled through the relay,
// so listing it sent everyone after a "ghost".
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
import { createP2P } from '../p2p/index.js'
import { subscribePresence } from '../p2p/presence.js'
import { quiet, waitUntil } from './mailbox/testing.js'


/** A bare libp2p node that subscribes to the relay's presence and never reserves a slot. */
async function subscribeWithoutReservation (relay, signal) {
  const node = await createLibp2p({
    transports: [webSockets()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionGater: { denyDialMultiaddr: () => false }
  })
  const addr = multiaddr(relay.multiaddrs()[0])
  await node.dial(addr, { signal })
  const seen = { peers: null, joined: [], left: [] }
  const subscribed = new Promise((resolve, reject) => {
    subscribePresence(node, node.getConnections()[0].remotePeer, {
      signal,
      onSubscribed: resolve,
      onPeers: peers => { seen.peers = peers },
      onJoin: peer => seen.joined.push(peer),
      onLeave: peer => seen.left.push(peer)
    }).catch(reject)
  })
  await subscribed
  return { node, seen }
}

test('presence lists only peers holding a reservation, and drops one whose reservation is freed', { timeout: 30_000 }, async () => {
  const relay = createRelay({ port: 0, logger: quiet })
  await relay.start()
  const stop = new AbortController()
  const serve = async () => ({ status: 200, headers: [], body: new Uint8Array() })
  const honest = createP2P({ privateKey: (await generateKeyPair('Ed25519')).raw, relayAddrs: relay.multiaddrs(), serve, logger: quiet })
  let ghost = null
  try {
    await honest.start()
    await waitUntil(() => honest.relays()[0].online, 10_000, 'the honest peer did not get on the relay')

    ghost = await subscribeWithoutReservation(relay, stop.signal)
    const ghostId = ghost.node.peerId.toString()
    await waitUntil(() => ghost.seen.peers != null, 3000, 'the ghost got no peer list')
    // it still learns who is there: it may reserve later
    assert.deepEqual(ghost.seen.peers, [honest.peerId])
    await new Promise(resolve => setTimeout(resolve, 300)) // a join would have arrived by now
    assert.deepEqual(relay.present(), [honest.peerId], 'a peer without a reservation is listed as present')
    assert.deepEqual(honest.peers(), [], 'a peer without a reservation was announced to the others')

    // freeing the honest peer's reservation (expiry, or the limits dropping it) takes it off the list
    relay.libp2p.services.relay.reservations.delete(honest.libp2p.peerId)
    await waitUntil(() => ghost.seen.left.includes(honest.peerId), 3000, 'no leave when a reservation was freed')
    assert.deepEqual(relay.present(), [])
    assert.ok(!ghost.seen.joined.includes(ghostId))
  } finally {
    stop.abort()
    await Promise.allSettled([honest.stop(), ghost?.node.stop()])
    await relay.stop()
  }
})
