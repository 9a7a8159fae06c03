// The federation framing on an in-memory stream pair: round trip, limits, truncation.
import './node-env.js'
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { streamPair } from '@libp2p/utils'
import { readMessage, writeMessage } from './framing.js'
import { P2PProtocolError, P2PTooLargeError } from './errors.js'

test('a message survives the trip: head text and every byte value', async () => {
  const [out, inb] = await streamPair()
  const body = new Uint8Array(300_000).map((_, i) => i % 256)
  const head = JSON.stringify({ method: 'PUT', url: '/_matrix/federation/v1/send/ü', headers: [] })
  const [, got] = await Promise.all([writeMessage(out, head, body), readMessage(inb)])
  assert.equal(got.head, head)
  assert.deepEqual(got.body, body)
})

test('a null body arrives as an empty one', async () => {
  const [out, inb] = await streamPair()
  const [, got] = await Promise.all([writeMessage(out, '{}', null), readMessage(inb)])
  assert.equal(got.body.byteLength, 0)
})

test('an announced body over the limit is refused before it is buffered', async () => {
  const [out, inb] = await streamPair()
  const reading = readMessage(inb, { maxBodyBytes: 10 })
  await writeMessage(out, '{}', new Uint8Array(11))
  await assert.rejects(reading, P2PTooLargeError)
  await assert.rejects(writeMessage(out, '{}', new Uint8Array(11), { maxBodyBytes: 10 }), P2PTooLargeError)
})

test('a message cut short is a protocol error, not a short body', async () => {
  const [out, inb] = await streamPair()
  const frame = new Uint8Array([0, 0, 0, 2, 0x7b, 0x7d, 0, 0, 0, 100, 1, 2, 3])
  out.send(frame)
  await out.close()
  await assert.rejects(readMessage(inb), P2PProtocolError)
})

test('a silent writer is cut off by the signal', async () => {
  const [, inb] = await streamPair()
  const keepAlive = setTimeout(() => {}, 1000) // AbortSignal.timeout alone does not hold the event loop
  await assert.rejects(readMessage(inb, { signal: AbortSignal.timeout(50) }), { name: 'TimeoutError' })
  clearTimeout(keepAlive)
})
