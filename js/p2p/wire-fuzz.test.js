// Random and mutated relay messages, decoded as the peer and the relay decode
// them: a decoder returns, or throws P2PProtocolError and nothing else (issue
// 11, fuzzing). Bounded: FUZZ_RUNS per property (js/testing/seeded-random.js).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { decodeFrame, encodeFrame } from './mailbox-frames.js'
import { parsePresenceMessage } from './presence.js'
import { property } from '../testing/seeded-random.js'

const utf8 = new TextEncoder()

/** Calls decode(bytes); anything thrown but a P2PProtocolError fails the test. */
function returnsOrProtocolError (decode, bytes) {
  try {
    return decode(bytes)
  } catch (err) {
    if (err?.name !== 'P2PProtocolError') assert.fail(`${decode.name}(${bytes.subarray(0, 64)}…) threw ${err?.name}: ${err?.message}`)
  }
}

/** the fields the mailbox and presence messages have, so random heads hit them */
const KEYS = ['op', 'id', 'mail', 'notices', 'from', 'to', 'ref', 'ok', 'error', 'peers', 'join', 'leave']

const validFrames = [
  () => encodeFrame({ id: 1, op: 'deposit', from: '12D3KooWa', to: '12D3KooWb', ref: 'r1' }, utf8.encode('sealed')),
  () => encodeFrame({ op: 'ack', mail: [1, 2, 3] }),
  () => encodeFrame({ mail: { mid: 4, from: '12D3KooWa', ref: 'r', depositedAt: 1 } }, new Uint8Array(40)),
  () => encodeFrame({ id: 'x', error: { name: 'MailboxFullError', message: 'full', retryAfterMs: 10 } })
]

test('decodeFrame: random, mutated and cut mailbox frames decode or throw P2PProtocolError', () => property(rand => {
  const valid = rand.pick(validFrames)()
  const random = encodeFrame(rand.json(KEYS), rand.bytes(rand.int(16)))
  for (const frame of [valid, rand.mutate(valid), valid.subarray(0, rand.int(valid.length)), random, rand.mutate(random), rand.bytes(rand.int(40))]) {
    const decoded = returnsOrProtocolError(decodeFrame, frame)
    if (decoded === undefined) continue
    assert.ok(decoded.head !== null && typeof decoded.head === 'object' && !Array.isArray(decoded.head))
    assert.ok(decoded.payload.byteLength <= frame.byteLength - 4)
  }
}))

test('parsePresenceMessage: random and mutated messages parse to an object or throw P2PProtocolError', () => property(rand => {
  const valid = utf8.encode(JSON.stringify(rand.pick([
    { peers: ['12D3KooWa', '12D3KooWb'] }, { join: '12D3KooWc' }, { leave: '12D3KooWc' }, rand.json(KEYS)
  ])))
  for (const message of [valid, rand.mutate(valid), valid.subarray(0, rand.int(valid.length)), rand.bytes(rand.int(40))]) {
    const parsed = returnsOrProtocolError(parsePresenceMessage, message)
    if (parsed !== undefined) assert.ok(parsed !== null && typeof parsed === 'object')
  }
}))
