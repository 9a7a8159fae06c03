// Mail through a real relay on 127.0.0.1 with its mailbox, between peers made
// by createP2P: pushes, acks, notices, draining on return, refusals, TTL.
import './node-env.js'
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRelay } from '../relay/index.js'
import { mailboxOpen, newKey, quiet, waitUntil, withMailboxRelay } from '../relay/mailbox/testing.js'
import { createP2P, MailboxFullError, MailboxUnavailableError, P2PNotRunningError } from './index.js'

const TEST_TIMEOUT = 30_000
const bytes = (text) => new TextEncoder().encode(text)
const text = (b) => new TextDecoder().decode(b)

/** A peer's mail and notices as they arrive; `failNext` makes that many onMail calls reject. */
function inbox () {
  const box = { mail: [], notices: [], failNext: 0 }
  box.onMail = async ({ from, bytes, relay }) => {
    if (box.failNext > 0) {
      box.failNext--
      throw new Error('storage is busy')
    }
    box.mail.push({ from, text: text(bytes), relay })
  }
  box.onNotice = async (notice) => { box.notices.push(notice) }
  return box
}

test('mail reaches a present recipient at once; its ack becomes a delivered notice for the sender', { timeout: TEST_TIMEOUT }, async () => {
  await withMailboxRelay(async ({ relay, makePeer }) => {
    const [a, b] = [inbox(), inbox()]
    const alice = await makePeer(a)
    const bob = await makePeer(b)
    await Promise.all([mailboxOpen(alice), mailboxOpen(bob)])
    assert.deepEqual(alice.relays().map(r => [r.peerId, r.online, r.mailbox]), [[relay.peerId, true, true]])

    const before = Date.now()
    const stored = await alice.deposit(bob.peerId, 'txn.1', bytes('hello bob'))
    assert.equal(stored.relay, relay.peerId)
    assert.ok(stored.expiresAt > before + 13 * 24 * 3600 * 1000, 'the default TTL is 14 days')
    await waitUntil(() => b.mail.length === 1, 3000, 'bob got no mail')
    assert.deepEqual(b.mail, [{ from: alice.peerId, text: 'hello bob', relay: relay.peerId }])
    await waitUntil(() => a.notices.length === 1, 3000, 'alice was not told')
    assert.deepEqual(a.notices, [{ kind: 'delivered', to: bob.peerId, ref: 'txn.1', relay: relay.peerId }])
    await waitUntil(() => relay.mailboxStats().notices === 0, 3000, 'the notice was not acked')
    assert.deepEqual(relay.mailboxStats(), { mails: 0, bytes: 0, notices: 0, present: 2 })
  })
})

test('an absent recipient drains its mailbox in order when it returns; the absent sender is told when it returns', { timeout: TEST_TIMEOUT }, async () => {
  await withMailboxRelay(async ({ relay, makePeer }) => {
    const [aliceKey, bobKey] = [await newKey(), await newKey()]
    const [a, b] = [inbox(), inbox()]
    const bobWasHere = await makePeer({ key: bobKey })
    await mailboxOpen(bobWasHere)
    await bobWasHere.stop()
    const alice = await makePeer({ key: aliceKey })
    await mailboxOpen(alice)
    for (let i = 1; i <= 20; i++) await alice.deposit(bobWasHere.peerId, `txn${i}`, bytes(`message ${i}`))
    await alice.deposit(bobWasHere.peerId, 'txn1', bytes('message 1')) // a repeat: stored once
    assert.equal(relay.mailboxStats().mails, 20)
    await alice.stop()

    await makePeer({ key: bobKey, ...b })
    await waitUntil(() => b.mail.length === 20, 5000, `bob drained ${b.mail.length} of 20`)
    assert.deepEqual(b.mail.map(m => m.text), Array.from({ length: 20 }, (_, i) => `message ${i + 1}`))
    await waitUntil(() => relay.mailboxStats().mails === 0, 3000, 'the mail was not acked')

    await makePeer({ key: aliceKey, ...a })
    await waitUntil(() => a.notices.length === 20, 5000, `alice heard of ${a.notices.length} of 20`)
    assert.ok(a.notices.every(n => n.kind === 'delivered' && n.to === bobWasHere.peerId))
  })
})

test('mail whose handler fails is not acked and is offered again when the stream reopens', { timeout: TEST_TIMEOUT }, async () => {
  await withMailboxRelay(async ({ relay, makePeer }) => {
    const bobKey = await newKey()
    const b = inbox()
    b.failNext = 1
    const bob = await makePeer({ key: bobKey, ...b })
    const alice = await makePeer()
    await Promise.all([mailboxOpen(alice), mailboxOpen(bob)])
    await alice.deposit(bob.peerId, 'first', bytes('one'))
    await alice.deposit(bob.peerId, 'second', bytes('two'))
    await waitUntil(() => b.mail.length === 1, 3000, 'the second mail did not arrive')
    assert.equal(b.mail[0].text, 'two')
    await new Promise(resolve => setTimeout(resolve, 200))
    assert.equal(relay.mailboxStats().mails, 1, 'the failed one waits on the relay')
    await bob.stop()
    await makePeer({ key: bobKey, ...b })
    await waitUntil(() => b.mail.length === 2, 3000, 'the failed mail was not offered again')
    assert.equal(b.mail[1].text, 'one')
  })
})

test('a full mailbox refuses with MailboxFullError and keeps nothing of the refused mail', { timeout: TEST_TIMEOUT }, async () => {
  await withMailboxRelay(async ({ relay, makePeer }) => {
    const bob = await makePeer()
    await mailboxOpen(bob)
    await bob.stop()
    const alice = await makePeer()
    await mailboxOpen(alice)
    await alice.deposit(bob.peerId, 'a', bytes('1'))
    await alice.deposit(bob.peerId, 'b', bytes('2'))
    await assert.rejects(alice.deposit(bob.peerId, 'c', bytes('3')),
      err => err instanceof MailboxFullError && err.name === 'MailboxFullError')
    assert.deepEqual(relay.mailboxStats(), { mails: 2, bytes: 2, notices: 0, present: 1 })
  }, { mailbox: { maxMailsPerRecipient: 2 } })
})

test('no mailbox for the recipient, or none at all: MailboxUnavailableError; a relay without one is never asked', { timeout: TEST_TIMEOUT }, async () => {
  await withMailboxRelay(async ({ makePeer }) => {
    const alice = await makePeer()
    await mailboxOpen(alice)
    await assert.rejects(alice.deposit((await makePeer()).peerId, 'x', bytes('?')),
      { name: 'MailboxUnavailableError', message: /does not use this relay's mailbox/ })
    const stranger = createP2P({ privateKey: await newKey(), relayAddrs: ['/ip4/127.0.0.1/tcp/1/ws/p2p/12D3KooWBVJTuNBRmN6p3qYWbsiJXPVW9A1p6UPZhtrCajM2WnJo'], serve: async () => {} })
    await assert.rejects(stranger.deposit(alice.peerId, 'x', bytes('?')), P2PNotRunningError)
  })

  const plain = createRelay({ port: 0, logger: quiet })
  await plain.start()
  const said = []
  const alice = createP2P({
    privateKey: await newKey(),
    relayAddrs: plain.multiaddrs(),
    serve: async () => {},
    logger: { ...quiet, info: line => said.push(line) }
  })
  try {
    await alice.start()
    await waitUntil(() => alice.relays()[0].online, 3000, 'alice is not on the relay')
    await new Promise(resolve => setTimeout(resolve, 1500)) // time for a retry storm, were there one
    // identify said it has no mailbox, so it is never asked for one
    assert.deepEqual(said.filter(line => line.includes('mailbox') || line.includes('on relay')), [`p2p: on relay ${plain.peerId} (offers presence, routing)`])
    assert.deepEqual(alice.relays()[0].offers, ['presence', 'routing'])
    assert.equal(alice.relays()[0].mailbox, false)
    await assert.rejects(alice.deposit(alice.peerId, 'x', bytes('?')),
      err => err instanceof MailboxUnavailableError && /no relay we are on keeps mail/.test(err.message))
  } finally {
    await alice.stop()
    await plain.stop()
  }
})

test('mail left unread past the TTL is dropped and its sender is told it expired', { timeout: TEST_TIMEOUT }, async () => {
  await withMailboxRelay(async ({ relay, makePeer }) => {
    const bobKey = await newKey()
    const [a, b] = [inbox(), inbox()]
    const alice = await makePeer(a)
    const bob = await makePeer({ key: bobKey })
    await Promise.all([mailboxOpen(alice), mailboxOpen(bob)])
    await bob.stop() // within the TTL of bob's visit, the relay still takes mail for him
    const { expiresAt } = await alice.deposit(bob.peerId, 'late', bytes('too late'))
    assert.ok(expiresAt <= Date.now() + 600)
    await waitUntil(() => a.notices.length === 1, 5000, 'alice was not told')
    assert.deepEqual(a.notices, [{ kind: 'expired', to: bob.peerId, ref: 'late', relay: relay.peerId }])
    assert.equal(relay.mailboxStats().mails, 0)
    const back = await makePeer({ key: bobKey, ...b })
    await mailboxOpen(back)
    await new Promise(resolve => setTimeout(resolve, 200))
    assert.deepEqual(b.mail, [])
  }, { mailbox: { ttl: 600, sweepInterval: 50 } })
})
