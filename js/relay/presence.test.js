// Presence lists only peers that hold a reservation (issue 11, defect 7): a
// node that subscribed without reserving cannot be dialled through the relay,
// so listing it sent everyone after a "ghost". And it tells a peer only about
// the peers it watches (issue 17): nobody learns the relay's population.
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
import { MAX_WATCHED, PRESENCE_PROTOCOL } from '../p2p/constants.js'
import { lpStream } from '@libp2p/utils'
import { quiet, waitUntil } from './mailbox/testing.js'


/**
 * A bare libp2p node that subscribes to the relay's presence, watching what
 * watch.list holds (set watch.list and call watch.changed() to change it), and
 * never reserves a slot.
 */
async function subscribeWithoutReservation (relay, signal, watch = { list: [] }) {
  const node = await createLibp2p({
    transports: [webSockets()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionGater: { denyDialMultiaddr: () => false }
  })
  const addr = multiaddr(relay.multiaddrs()[0])
  await node.dial(addr, { signal })
  const seen = { peers: null, answers: 0, joined: [], left: [] }
  const subscribed = new Promise((resolve, reject) => {
    subscribePresence(node, node.getConnections()[0].remotePeer, {
      signal,
      watched: { list: () => watch.list, listen: (changed) => { watch.changed = changed; return () => {} } },
      onSubscribed: resolve,
      onPeers: peers => { seen.peers = peers; seen.answers++ },
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

    ghost = await subscribeWithoutReservation(relay, stop.signal, { list: [honest.peerId] })
    const ghostId = ghost.node.peerId.toString()
    honest.watch([ghostId])
    await waitUntil(() => ghost.seen.peers?.length > 0, 3000, 'the ghost got no peer list')
    // it still learns about the peers it watches: it may reserve later
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

test('a subscriber hears about the peers it watches and no others; a new watch list is answered at once', { timeout: 30_000 }, async () => {
  const relay = createRelay({ port: 0, logger: quiet })
  await relay.start()
  const stop = new AbortController()
  const serve = async () => ({ status: 200, headers: [], body: new Uint8Array() })
  const newPeer = async () => createP2P({ privateKey: (await generateKeyPair('Ed25519')).raw, relayAddrs: relay.multiaddrs(), serve, logger: quiet })
  const [friend, stranger] = [await newPeer(), await newPeer()]
  let watcher = null
  try {
    await Promise.all([friend.start(), stranger.start()])
    await waitUntil(() => relay.present().length === 2, 10_000, 'the peers did not get on the relay')
    const watch = { list: [friend.peerId] }
    watcher = await subscribeWithoutReservation(relay, stop.signal, watch)
    await waitUntil(() => watcher.seen.peers?.length > 0, 3000, 'no answer to the watch list')
    assert.deepEqual(watcher.seen.peers, [friend.peerId], 'told about a peer it does not watch')

    // the stranger comes and goes: nothing reaches the watcher; the friend goes: it hears
    await stranger.stop()
    await waitUntil(() => !relay.present().includes(stranger.peerId), 5000, 'the stranger is still present')
    await stranger.start()
    await waitUntil(() => relay.present().includes(stranger.peerId), 10_000, 'the stranger did not come back')
    await friend.stop()
    await waitUntil(() => watcher.seen.left.includes(friend.peerId), 5000, 'no leave for a watched peer')
    assert.deepEqual(watcher.seen.joined, [])
    assert.deepEqual(watcher.seen.left, [friend.peerId], 'told of a peer it does not watch')

    // watching the stranger instead: the answer says it is there
    watch.list = [stranger.peerId]
    watch.changed()
    await waitUntil(() => watcher.seen.peers?.includes(stranger.peerId), 3000, 'the new watch list was not answered')

    // an oversized watch list ends that subscription, and nothing else
    const stream = await watcher.node.dialProtocol(watcher.node.getConnections()[0].remotePeer, PRESENCE_PROTOCOL)
    const lp = lpStream(stream)
    await lp.read() // the first message
    await lp.write(new TextEncoder().encode(JSON.stringify({ watch: Array.from({ length: MAX_WATCHED + 1 }, (_, i) => `12D3KooW${i}`) })))
    await assert.rejects(lp.read({ signal: AbortSignal.timeout(5000) }), (err) => err.name !== 'AbortError' && err.name !== 'TimeoutError', 'the relay kept answering an oversized watch list')
    assert.ok(relay.present().includes(stranger.peerId))
    // so does a flood of watch lists (more than 30 in 10 s)
    const flood = lpStream(await watcher.node.dialProtocol(watcher.node.getConnections()[0].remotePeer, PRESENCE_PROTOCOL))
    await flood.read()
    const flooded = (async () => {
      for (let i = 0; i < 40; i++) {
        await flood.write(new TextEncoder().encode(JSON.stringify({ watch: [stranger.peerId] })))
        await flood.read({ signal: AbortSignal.timeout(5000) })
      }
    })()
    await assert.rejects(flooded, (err) => err.name !== 'AbortError' && err.name !== 'TimeoutError', 'the relay kept answering a flood of watch lists')
    const answers = watcher.seen.answers
    watch.list = [friend.peerId, stranger.peerId]
    watch.changed()
    await waitUntil(() => watcher.seen.answers > answers, 3000, 'the first subscription stopped answering')
    assert.deepEqual(watcher.seen.peers, [stranger.peerId])
  } finally {
    stop.abort()
    await Promise.allSettled([friend.stop(), stranger.stop(), watcher?.node.stop()])
    await relay.stop()
  }
})
