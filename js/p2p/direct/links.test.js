// The worker's side of direct links over real libp2p nodes and a relay on
// 127.0.0.1. Node has no RTCPeerConnection, so each "page" is a stand-in
// host speaking rpc.js: its links carry requests straight to the other
// side's serve. What is under test is links.js: signalling over the relay,
// when a link is used, glare, and falling back to the relay.
import '../node-env.js'
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { createRelay } from '../../relay/index.js'
import { createP2P, SIGNAL_PROTOCOL } from '../index.js'
import { createDirectLinks } from './links.js'
import { connectPort } from './rpc.js'

const quiet = { info () {}, warn () {} }
const encoder = new TextEncoder()
const decoder = new TextDecoder()

/** A peer: p2p node, and for browsers direct links with a stand-in page. served counts who asked and how. */
async function makePeer (relay, { browser = true } = {}) {
  const served = []
  let peer
  const serve = async (head) => {
    served.push(head.peer)
    return { status: 200, headers: [], body: encoder.encode(`${peer.p2p.peerId} answers ${head.peer}`) }
  }
  const p2p = createP2P({ privateKey: (await generateKeyPair('Ed25519')).raw, relayAddrs: relay.multiaddrs(), serve, logger: quiet })
  await p2p.start()
  peer = { p2p, served, viaLink: 0 }
  if (browser) {
    peer.links = createDirectLinks({ selfId: p2p.peerId, p2p, serve, logger: quiet })
    await p2p.libp2p.handle(SIGNAL_PROTOCOL, (stream, connection) => peer.links.answerSignal(stream, connection))
  }
  peer.roundTrip = (to) => (peer.links ?? p2p).roundTrip(to.p2p.peerId,
    { head: JSON.stringify({ method: 'GET', url: '/_matrix/key/v2/server', headers: [] }), body: null })
  return peer
}

/** Every stand-in page, by peer ID: a link is a pair of entries pointing at each other. */
const pages = new Map()

/** Gives `peer` a stand-in page. Its SDP names the link; complete() opens both ends. */
function attachPage (peer) {
  const { port1, port2 } = new MessageChannel()
  const page = { links: new Map(), peer }
  const self = peer.p2p.peerId
  page.rpc = connectPort(port1, {
    offer: (linkId, peerId) => { page.links.set(linkId, { peerId }); return `offer ${self} ${linkId}` },
    accept: (linkId, peerId, sdp) => {
      page.links.set(linkId, { peerId, remote: sdp.split(' ')[2] })
      return `answer ${self} ${linkId}`
    },
    complete: async (linkId, sdp) => {
      const link = page.links.get(linkId)
      link.remote = sdp.split(' ')[2]
      const other = pages.get(link.peerId)
      await Promise.all([page.rpc.call('state', [linkId, link.peerId, 'open']),
        other.rpc.call('state', [link.remote, self, 'open'])])
    },
    roundTrip: async (peerId, request) => {
      const other = pages.get(peerId)
      if (!other) throw Object.assign(new Error('no link'), { name: 'DirectUnavailableError' })
      peer.viaLink++
      const head = { ...JSON.parse(request.head), peer: self }
      const res = await other.rpc.call('serve', [head, request.body])
      return { head: JSON.stringify({ status: res.status, headers: res.headers }), body: res.body }
    },
    close: (linkId) => { page.links.delete(linkId) }
  })
  peer.links.setHost(port2)
  pages.set(self, page)
  return page
}

async function withRelay (fn) {
  const relay = createRelay({ port: 0, logger: quiet })
  await relay.start()
  const peers = []
  try {
    await fn(async (opts) => { const p = await makePeer(relay, opts); peers.push(p); return p })
  } finally {
    for (const p of peers) { p.links?.stop(); pages.delete(p.p2p.peerId) }
    await Promise.allSettled(peers.map(p => p.p2p.stop()))
    await relay.stop()
  }
}

async function until (what, check, ms = 5000) {
  const deadline = Date.now() + ms
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 10))
  }
}

test('the first request goes through the relay and sets up a link; later ones take the link', { timeout: 30_000 }, async () => {
  await withRelay(async (peer) => {
    const a = await peer()
    const b = await peer()
    attachPage(a)
    attachPage(b)
    await a.p2p.waitForPeer(b.p2p.peerId, { signal: AbortSignal.timeout(5000) })

    const first = await a.roundTrip(b)
    assert.equal(decoder.decode(first.body), `${b.p2p.peerId} answers ${a.p2p.peerId}`)
    assert.equal(a.viaLink, 0, 'no link existed yet: the relay carried it')
    await until('both ends open', () => a.links.connected().includes(b.p2p.peerId) && b.links.connected().includes(a.p2p.peerId))

    const second = await a.roundTrip(b)
    const back = await b.roundTrip(a)
    assert.equal(decoder.decode(second.body), `${b.p2p.peerId} answers ${a.p2p.peerId}`)
    assert.equal(decoder.decode(back.body), `${a.p2p.peerId} answers ${b.p2p.peerId}`)
    assert.equal(a.viaLink, 1)
    assert.equal(b.viaLink, 1)
    assert.deepEqual(b.served, [a.p2p.peerId, a.p2p.peerId], 'the link tells Go the authenticated peer')
  })
})

test('both offering at once (glare) ends in one link both sides agree on', { timeout: 30_000 }, async () => {
  await withRelay(async (peer) => {
    const a = await peer()
    const b = await peer()
    const pageA = attachPage(a)
    const pageB = attachPage(b)
    await a.p2p.waitForPeer(b.p2p.peerId, { signal: AbortSignal.timeout(5000) })
    await Promise.all([a.roundTrip(b), b.roundTrip(a)])
    await until('both ends open', () => a.links.connected().length === 1 && b.links.connected().length === 1)
    // Superseded attempts were closed; the survivor is one link seen from both pages.
    assert.equal(pageA.links.size, 1)
    assert.equal(pageB.links.size, 1)
    const [[idA, linkA]] = pageA.links
    const [[idB, linkB]] = pageB.links
    assert.deepEqual([linkA.remote, linkB.remote], [idB, idA])
    await a.roundTrip(b)
    await b.roundTrip(a)
    assert.equal(a.viaLink + b.viaLink, 2)
  })
})

test('a headless peer has no links: requests use the relay, and no link is retried at once', { timeout: 30_000 }, async () => {
  await withRelay(async (peer) => {
    const a = await peer()
    const headless = await peer({ browser: false })
    attachPage(a)
    await a.p2p.waitForPeer(headless.p2p.peerId, { signal: AbortSignal.timeout(5000) })
    for (let i = 0; i < 3; i++) {
      const res = await a.roundTrip(headless)
      assert.equal(decoder.decode(res.body), `${headless.p2p.peerId} answers ${a.p2p.peerId}`)
    }
    await new Promise(resolve => setTimeout(resolve, 300))
    assert.deepEqual(a.links.connected(), [])
    assert.equal(a.viaLink, 0)
    assert.equal(headless.served.length, 3)
  })
})

test('the hosting page goes away: requests fall back to the relay at once', { timeout: 30_000 }, async () => {
  await withRelay(async (peer) => {
    const a = await peer()
    const b = await peer()
    const pageA = attachPage(a)
    attachPage(b)
    await a.p2p.waitForPeer(b.p2p.peerId, { signal: AbortSignal.timeout(5000) })
    await a.roundTrip(b)
    await until('link open', () => a.links.connected().length === 1)
    pageA.rpc.close() // the tab closed
    await until('link dropped', () => a.links.connected().length === 0)
    const res = await a.roundTrip(b)
    assert.equal(decoder.decode(res.body), `${b.p2p.peerId} answers ${a.p2p.peerId}`)
    assert.equal(a.viaLink, 0)
  })
})
