// The relay's side of /hearth/mailbox/1.0.0 spoken to directly: forged
// origins, refusals by name, bad frames, and a relay killed with SIGKILL
// right after acknowledging deposits.
import '../../p2p/node-env.js'
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createP2P } from '../../p2p/index.js'
import { spawnRelayProcess } from '../testing.js'
import { mailboxOpen, newKey, quiet, rawMailbox, waitUntil, withMailboxRelay } from './testing.js'

const TEST_TIMEOUT = 30_000
const bytes = (text) => new TextEncoder().encode(text)

test('a deposit claiming another origin is refused with MailboxOriginError and stores nothing', { timeout: TEST_TIMEOUT }, async () => {
  await withMailboxRelay(async ({ relay, makePeer }) => {
    const [alice, bob, carol] = [await makePeer(), await makePeer(), await makePeer()]
    await Promise.all([alice, bob, carol].map(p => mailboxOpen(p)))
    const raw = await rawMailbox(alice, relay.peerId)
    await raw.send({ id: 1, op: 'deposit', from: carol.peerId, to: bob.peerId, ref: 'forged' }, bytes('from carol, honest'))
    const refused = (await raw.read()).head
    assert.equal(refused.id, 1)
    assert.equal(refused.error.name, 'MailboxOriginError')
    assert.equal(relay.mailboxStats().mails, 0)
    // the same stream goes on: alice may deposit as herself
    await raw.send({ id: 2, op: 'deposit', from: alice.peerId, to: bob.peerId, ref: 'real' }, bytes('from alice'))
    const stored = (await raw.read()).head
    assert.deepEqual([stored.id, stored.ok], [2, true])
    assert.equal(relay.mailboxStats().mails, 1)
  })
})

test('refusals are named: unknown recipient, too large, bad ref or recipient, over the rate', { timeout: TEST_TIMEOUT }, async () => {
  await withMailboxRelay(async ({ relay, makePeer }) => {
    const [alice, bob] = [await makePeer(), await makePeer()]
    await Promise.all([mailboxOpen(alice), mailboxOpen(bob)])
    const raw = await rawMailbox(alice, relay.peerId)
    let id = 0
    const deposit = async (fields, payload = bytes('x')) => {
      await raw.send({ id: ++id, op: 'deposit', from: alice.peerId, to: bob.peerId, ref: `r${id}`, ...fields }, payload)
      const { head } = await raw.read()
      assert.equal(head.id, id)
      return head.ok ? 'ok' : head.error
    }
    const stranger = createP2P({ privateKey: await newKey(), relayAddrs: relay.multiaddrs(), serve: async () => {} })
    assert.equal((await deposit({ to: stranger.peerId })).name, 'MailboxUnknownRecipientError')
    assert.equal((await deposit({}, new Uint8Array(1025))).name, 'MailboxTooLargeError')
    assert.equal((await deposit({ ref: 'no spaces' })).name, 'MailboxBadRequestError')
    assert.equal((await deposit({ ref: 'x'.repeat(101) })).name, 'MailboxBadRequestError')
    assert.equal((await deposit({ to: 'bob' })).name, 'MailboxBadRequestError')
    assert.deepEqual([await deposit({}), await deposit({}), await deposit({})], ['ok', 'ok', 'ok'])
    const limited = await deposit({})
    assert.equal(limited.name, 'MailboxRateLimitedError')
    assert.ok(limited.retryAfterMs > 500 && limited.retryAfterMs <= 1000, `retryAfterMs ${limited.retryAfterMs}`)
    assert.equal(relay.mailboxStats().mails, 3)
  }, { mailbox: { maxDepositBytes: 1024, depositBurst: 3, depositsPerSecond: 1 } })
})

test('bad frames close their stream and nothing else; the relay goes on', { timeout: TEST_TIMEOUT }, async () => {
  await withMailboxRelay(async ({ relay, makePeer }) => {
    const [alice, bob] = [await makePeer(), await makePeer()]
    await Promise.all([mailboxOpen(alice), mailboxOpen(bob)])
    const oversizeHead = new Uint8Array(8)
    new DataView(oversizeHead.buffer).setUint32(0, 0xffffffff)
    const badFrames = {
      'not length-prefixed': async raw => raw.stream.send(new Uint8Array(16).fill(0xff)),
      'frame over the limit': async raw => raw.stream.send(new Uint8Array([0x80, 0x80, 0x80, 0x04])), // varint 8 MiB
      'shorter than a head length': raw => raw.sendRaw(new Uint8Array([1, 2])),
      'head length past the frame': raw => raw.sendRaw(oversizeHead),
      'head not JSON': raw => raw.sendRaw(new Uint8Array([0, 0, 0, 3, 0x7b, 0x7b, 0x7b])),
      'ack not a list of ids': raw => raw.send({ op: 'ack', mail: 'all of them' }),
      'deposit without an id': raw => raw.send({ op: 'deposit', from: alice.peerId, to: bob.peerId, ref: 'r' })
    }
    for (const [what, send] of Object.entries(badFrames)) {
      const raw = await rawMailbox(alice, relay.peerId)
      await send(raw)
      await assert.rejects(raw.read(), err => err.name !== 'AbortError' && err.name !== 'TimeoutError', `${what}: the stream stayed open`)
    }
    const raw = await rawMailbox(alice, relay.peerId)
    await raw.send({ op: 'something-newer', payload: true }) // unknown ops are ignored
    await raw.send({ id: 'x', op: 'deposit', from: alice.peerId, to: bob.peerId, ref: 'after' }, bytes('still here'))
    assert.equal((await raw.read()).head.ok, true)
    assert.ok(alice.relays()[0].mailbox && bob.relays()[0].mailbox, 'the peers\' own mailbox streams are untouched')
  })
})

async function kill (child, signal) {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise(resolve => child.once('exit', resolve))
  child.kill(signal)
  await exited
}

test('deposits the relay acknowledged survive SIGKILL and are delivered after the restart', { timeout: TEST_TIMEOUT }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'hearth-mailbox-kill-'))
  const env = { RELAY_PORT: '0', RELAY_KEY_FILE: join(dir, 'relay.key'), RELAY_MAILBOX_DIR: join(dir, 'mailbox') }
  const peers = []
  const peer = async (key, handlers = {}) => {
    const p = createP2P({ privateKey: key, relayAddrs: [relay.addr], serve: async () => {}, logger: quiet, ...handlers })
    peers.push(p)
    await p.start()
    await mailboxOpen(p)
    return p
  }
  let relay = await spawnRelayProcess(env)
  try {
    const [aliceKey, bobKey] = [await newKey(), await newKey()]
    const bobWasHere = await peer(bobKey)
    await bobWasHere.stop()
    const notices = []
    const alice = await peer(aliceKey, { onNotice: async n => { notices.push(n) } })
    const refs = Array.from({ length: 10 }, (_, i) => `txn${i}`)
    await Promise.all(refs.map(ref => alice.deposit(bobWasHere.peerId, ref, bytes(`sealed ${ref}`))))
    await kill(relay.child, 'SIGKILL')

    relay = await spawnRelayProcess({ ...env, RELAY_PORT: String(relay.port) })
    const mail = []
    await peer(bobKey, { onMail: async m => { mail.push(new TextDecoder().decode(m.bytes)) } })
    await waitUntil(() => mail.length === refs.length, 5000, `bob got ${mail.length} of ${refs.length} after the restart`)
    assert.deepEqual(mail.sort(), refs.map(ref => `sealed ${ref}`).sort())
    // alice comes back on her own (the relay loop's backoff) and hears of every one
    await waitUntil(() => notices.length === refs.length, 15_000, `alice heard of ${notices.length} of ${refs.length}`)
    assert.deepEqual(notices.map(n => n.ref).sort(), [...refs].sort())
  } finally {
    await Promise.allSettled(peers.map(p => p.stop()))
    await kill(relay.child, 'SIGTERM')
    await rm(dir, { recursive: true, force: true })
  }
})
