// Relays linked with RELAY_PEERS (links.js): links go both ways from one
// side's configuration, a relay that stops is no longer offered, and bad
// routing requests get an error answer and change nothing.
import '../p2p/node-env.js'
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createLibp2p } from 'libp2p'
import { webSockets } from '@libp2p/websockets'
import { yamux } from '@libp2p/yamux'
import { multiaddr } from '@multiformats/multiaddr'
import { noise } from '../p2p/noise.js'
import { askRouting } from '../p2p/routing.js'
import { createRelay } from './index.js'
import { quiet, waitUntil } from './mailbox/testing.js'

test('links go both ways, a stopped relay is dropped, bad requests are refused', { timeout: 30_000 }, async () => {
  const r1 = createRelay({ port: 0, logger: quiet })
  await r1.start()
  const r2 = createRelay({ port: 0, logger: quiet, peers: r1.multiaddrs() })
  await r2.start()
  const r3 = createRelay({ port: 0, logger: quiet, peers: r2.multiaddrs() })
  await r3.start()
  const client = await createLibp2p({
    transports: [webSockets()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionGater: { denyDialMultiaddr: () => false }
  })
  try {
    // r3 named only r2, r2 only r1: all three end up linked with the two others
    const ids = (relay) => relay.linkedRelays().map(a => a.split('/p2p/')[1]).sort()
    await waitUntil(() => [r1, r2, r3].every(r => ids(r).length === 2), 10_000, "not a mesh")
    assert.deepEqual(ids(r1), [r2.peerId, r3.peerId].sort())

    const at = [multiaddr(r1.multiaddrs()[0])]
    const ask = (message) => askRouting(client, at, message, { signal: AbortSignal.timeout(5000) })
    assert.deepEqual((await ask({ op: 'relays' })).relays.map(a => a.split('/p2p/')[1]).sort(), [r2.peerId, r3.peerId].sort())
    assert.deepEqual(await ask({ op: 'find', peer: client.peerId.toString() }), { reserved: [], mailbox: [] })
    for (const [message, error] of [
      [{ op: 'nope' }, /unknown op/],
      [{ op: 'find', peer: 'not a peer' }, /peer must be a peer ID/],
      [{ op: 'find' }, /peer must be a peer ID/],
      // a node may link only as itself: addresses of another relay are refused
      [{ op: 'link', addrs: r2.multiaddrs() }, /own addresses/],
      [{ op: 'link', addrs: 'x' }, /own addresses/]
    ]) {
      await assert.rejects(ask(message), { name: 'P2PProtocolError', message: error })
    }
    assert.equal(r1.linkedRelays().length, 2, 'a refused link changed the links')

    await r3.stop()
    await waitUntil(() => ids(r1).length === 1 && ids(r2).length === 1, 10_000, "a stopped relay is still offered")
    assert.deepEqual(ids(r1), [r2.peerId])
  } finally {
    await client.stop()
    await Promise.allSettled([r1.stop(), r2.stop(), r3.stop()])
  }
})
