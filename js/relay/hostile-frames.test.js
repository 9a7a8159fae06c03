// Random and mutated mailbox frames and presence bytes at a live relay
// (issue 11, fuzzing): each bad stream is closed, nothing throws outside it,
// and honest peers on the same relay keep their presence and their mail.
// Bounded: 40 streams of at most 8 frames (js/testing/seeded-random.js).
import '../p2p/node-env.js'
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { peerIdFromString } from '@libp2p/peer-id'
import { encodeFrame } from '../p2p/mailbox-frames.js'
import { PRESENCE_PROTOCOL } from '../p2p/constants.js'
import { seededRandom, FUZZ_SEED } from '../testing/seeded-random.js'
import { mailboxOpen, rawMailbox, waitUntil, withMailboxRelay } from './mailbox/testing.js'

const STREAMS = 40
const KEYS = ['op', 'id', 'mail', 'notices', 'from', 'to', 'ref']

/** One hostile frame: a valid head with a field made random, a random head, or random bytes. */
function hostileFrame (rand, alice, bob) {
  const heads = [
    { id: rand.int(100), op: 'deposit', from: alice, to: bob, ref: 'r' + rand.int(100) },
    { op: 'ack', mail: [1 + rand.int(5)] },
    { op: 'ack-notices', notices: [1] }
  ]
  const head = { ...rand.pick(heads) }
  head[rand.pick(KEYS)] = rand.json(KEYS)
  const frame = encodeFrame(rand.pick([head, rand.json(KEYS), {}]), rand.bytes(rand.int(64)))
  return rand.pick([() => frame, () => rand.mutate(frame), () => rand.bytes(1 + rand.int(40))])()
}

test('random mailbox frames and presence bytes close their own streams and nothing else', { timeout: 60_000 }, async () => {
  const escaped = []
  const onEscape = err => escaped.push(err)
  process.on('uncaughtException', onEscape)
  process.on('unhandledRejection', onEscape)
  try {
    await withMailboxRelay(async ({ relay, makePeer }) => {
      const received = []
      const [alice, bob, mallory] = [await makePeer(), await makePeer({ onMail: async mail => { received.push(mail) } }), await makePeer()]
      await Promise.all([alice, bob, mallory].map(p => mailboxOpen(p)))
      const rand = seededRandom(FUZZ_SEED)

      for (let s = 0; s < STREAMS; s++) {
        const raw = await rawMailbox(mallory, relay.peerId)
        try {
          for (let f = 1 + rand.int(8); f > 0; f--) {
            const frame = hostileFrame(rand, mallory.peerId, bob.peerId)
            await (rand.int(4) === 0 ? raw.stream.send(frame) : raw.sendRaw(frame))
          }
        } catch {
          // the relay closed the stream: what it should do with a bad frame
        }
        raw.stream.abort(new Error('next stream'))
      }
      for (let s = 0; s < 5; s++) {
        // the relay never reads presence streams; bytes there must not matter
        const stream = await mallory.libp2p.dialProtocol(peerIdFromString(relay.peerId), PRESENCE_PROTOCOL)
        stream.send(rand.bytes(1 + rand.int(2000)))
        stream.abort(new Error('done'))
      }

      assert.deepEqual(escaped, [], 'an error escaped a stream')
      assert.ok(relay.present().includes(alice.peerId) && relay.present().includes(bob.peerId), 'honest peers left the presence list')
      const raw = await rawMailbox(alice, relay.peerId)
      await raw.send({ id: 'after', op: 'deposit', from: alice.peerId, to: bob.peerId, ref: 'after' }, new TextEncoder().encode('still here'))
      assert.equal((await raw.read()).head.ok, true, 'the relay refused an honest deposit after the flood')
      await waitUntil(() => received.some(m => m.from === alice.peerId), 5000, 'bob did not get alice\'s mail')
    })
  } finally {
    process.off('uncaughtException', onEscape)
    process.off('unhandledRejection', onEscape)
  }
})
