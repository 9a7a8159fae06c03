// Many relays, none essential (issue 17): relays linked with RELAY_PEERS, each
// peer given one of them learns the others, holds reservations on two, finds
// peers on relays it does not use, and stays reachable when a relay is
// SIGKILLed, also after a restart given only the dead relay (the relays it
// learned are kept); mail deposited before the kill is still delivered.
// Run with the JavaScript relays (js/relay) and with the Go relays (go/relay).
import './node-env.js'
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { createP2P } from './index.js'
import { killRelay as kill, spawnLinkedRelays } from '../relay/testing.js'

const quiet = { log () {}, info () {}, warn () {}, debug () {} }
const decoder = new TextDecoder()
const encoder = new TextEncoder()

/** A peer whose federation answers echo who asked and what they sent. */
async function newPeer (relayAddrs, extra = {}) {
  const key = (await generateKeyPair('Ed25519')).raw
  const options = {
    privateKey: key,
    relayAddrs,
    logger: quiet,
    serve: async (head) => ({ status: 200, headers: [], body: encoder.encode(`${head.peer}:${new URL(head.url, 'http://x').searchParams.get('say')}`) }),
    ...extra
  }
  return { key, options, p2p: createP2P(options) }
}

async function waitUntil (predicate, ms, message) {
  const deadline = Date.now() + ms
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(message())
    await new Promise(resolve => setTimeout(resolve, 50))
  }
}

function request (text) {
  return { head: JSON.stringify({ method: 'GET', url: `/_matrix/federation/v1/version?say=${text}`, headers: [] }), body: null }
}

async function ask (from, to, text) {
  const answer = await from.p2p.roundTrip(to.p2p.peerId, request(text))
  return decoder.decode(answer.body)
}

const onlineIds = (peer) => peer.p2p.relays().filter(r => r.online).map(r => r.peerId)

for (const implementation of ['js', 'go']) {
  test(`three linked relays (${implementation}): peers given one each reach one another, survive a SIGKILLed relay, and keep mail deposited before it`, { timeout: 300_000 }, (t) => linkedRelays(t, implementation))
}

async function linkedRelays (t, implementation) {
  const dir = await mkdtemp(join(tmpdir(), 'hearth-linked-'))
  // a chain of RELAY_PEERS: r2 knows r1, r3 knows r2; the links make a mesh
  const relays = await spawnLinkedRelays(dir, Array(3).fill(implementation)).catch(async (err) => {
    await rm(dir, { recursive: true, force: true })
    throw err
  })
  const [r1, r2, r3] = relays
  // The relays write their mailboxes in dir: it goes once they are gone
  // (node:test runs after-hooks in the order they were added).
  t.after(async () => {
    await Promise.all(relays.map(kill))
    await rm(dir, { recursive: true, force: true })
  })

  const mail = []
  // peer 0 keeps the relays it learns (relayBook), as a browser or headless peer does
  const kept = []
  const book = { load: async () => [...kept], save: async (addrs) => { kept.splice(0, kept.length, ...addrs) } }
  const peers = [await newPeer([r1.addr], { relayBook: book }), await newPeer([r2.addr]), await newPeer([r3.addr])]
  // d keeps its mailbox on r1 and r3, then goes away
  const d = await newPeer([r1.addr, r3.addr], { onMail: async (m) => { mail.push(decoder.decode(m.bytes)) } })
  // two peers that stay on one relay each, sharing none with each other or with d
  const onR2 = await newPeer([r2.addr], { maxRelays: 1 })
  const onR3 = await newPeer([r3.addr], { maxRelays: 1 })
  const all = [...peers, d, onR2, onR3]
  t.after(() => Promise.allSettled(all.map(p => p.p2p.stop())))
  await Promise.all(all.map(p => p.p2p.start()))

  // each peer given one relay learns the others and holds two reservations, not three
  for (const [i, peer] of peers.entries()) {
    await waitUntil(() => onlineIds(peer).length === 2, 15_000, () => `peer ${i} not on two relays: ${JSON.stringify(peer.p2p.relays())}`)
    assert.ok(onlineIds(peer).includes(relays[i].id), `peer ${i} left the relay it was given`)
    const learned = peer.p2p.relays().find(r => r.learned)
    assert.ok(learned?.online && learned.offers.includes('routing'), `peer ${i}: ${JSON.stringify(peer.p2p.relays())}`)
  }
  await new Promise(resolve => setTimeout(resolve, 500))
  assert.equal(peers.map(onlineIds).flat().length, 6, 'a peer holds reservations on more relays than it needs')

  // every direction, found through the relays even where two peers share none
  for (const from of peers) {
    for (const to of peers) {
      if (from === to) continue
      assert.equal(await ask(from, to, 'hi'), `${from.p2p.peerId}:hi`)
    }
  }

  // peers on relays that share none find each other by peer ID, both ways
  await waitUntil(() => onlineIds(onR2).length === 1 && onlineIds(onR3).length === 1, 10_000, () => 'the one-relay peers are not online')
  await new Promise(resolve => setTimeout(resolve, 300))
  assert.deepEqual([onlineIds(onR2), onlineIds(onR3)], [[r2.id], [r3.id]], 'maxRelays 1 still took a second relay')
  const began = Date.now()
  assert.equal(await ask(onR2, onR3, 'across'), `${onR2.p2p.peerId}:across`)
  t.diagnostic(`first request between peers sharing no relay: ${Date.now() - began} ms`)
  assert.equal(await ask(onR3, onR2, 'back'), `${onR3.p2p.peerId}:back`)

  // mail for d, which is away, lands on every relay that keeps its mailbox,
  // though the sender uses neither of them
  await waitUntil(() => d.p2p.relays().filter(r => r.mailbox).length === 2, 10_000, () => `d has no mailbox on both relays: ${JSON.stringify(d.p2p.relays())}`)
  await d.p2p.stop()
  const deposited = await onR2.p2p.deposit(d.p2p.peerId, 'txn1', encoder.encode('sealed for d'))
  assert.ok(deposited.expiresAt > Date.now())
  assert.ok([r1.id, r3.id].includes(deposited.relay), `deposited on ${deposited.relay}`)

  // SIGKILL r1: the peer given r1 is reachable again through its other relay within 10 s
  await kill(r1)
  const killedAt = Date.now()
  for (const from of [peers[1], peers[2]]) {
    await waitUntil(async () => {
      try { return (await ask(from, peers[0], 'after')) === `${from.p2p.peerId}:after` } catch { return false }
    }, 10_000, () => `peer 0 unreachable ${Date.now() - killedAt} ms after its relay died`)
  }
  t.diagnostic(`peer 0 reachable from both others ${Date.now() - killedAt} ms after r1 was killed`)
  // and peer 0, given only r1, is back on two relays, learned ones
  await waitUntil(() => onlineIds(peers[0]).length === 2, 10_000, () => `peer 0 not back on two relays: ${JSON.stringify(peers[0].p2p.relays())}`)

  // peer 0 restarts given only r1, which is dead: the relays it learned and kept carry it
  assert.deepEqual(new Set(kept.map(a => a.split('/p2p/').at(-1))), new Set([r2.id, r3.id]), 'the learned relays were kept')
  await peers[0].p2p.stop()
  peers[0].p2p = createP2P(peers[0].options)
  await peers[0].p2p.start()
  await waitUntil(() => peers[0].p2p.relays().some(r => r.online && r.learned), 15_000, () => `restarted on no learned relay: ${JSON.stringify(peers[0].p2p.relays())}`)
  await waitUntil(async () => {
    try { return (await ask(peers[1], peers[0], 'restarted')) === `${peers[1].p2p.peerId}:restarted` } catch { return false }
  }, 10_000, () => 'the restarted peer 0 is unreachable')

  // d comes back given r2 only: it learns r3, where the copy of its mail outlived r1
  const back = createP2P({ ...d.options, relayAddrs: [r2.addr] })
  t.after(() => back.stop())
  await back.start()
  await waitUntil(() => mail.length > 0, 15_000, () => `the mail never arrived: ${JSON.stringify(back.relays())}`)
  assert.deepEqual(mail, ['sealed for d'])

  // a peer on a given relay and a learned one stops within 5 s, its relays up or one dying with it
  let stopping = Date.now()
  await back.stop()
  assert.ok(Date.now() - stopping < 5000, `stop took ${Date.now() - stopping} ms`)
  stopping = Date.now()
  await Promise.all([peers[1].p2p.stop(), kill(r2)])
  assert.ok(Date.now() - stopping < 5000, `stop with its relay dying took ${Date.now() - stopping} ms`)
}
