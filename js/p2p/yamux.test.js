// yamux.js: a receiver updates the sender's window once half of it is used,
// not after every data frame, and a large transfer still flows (no stall).
import './node-env.js'
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { multiaddrConnectionPair } from '@libp2p/utils'
import { halfWindowUpdates, yamux } from './yamux.js'

/** Two muxers over an in-memory connection; counts the frames the receiving side writes. */
function muxerPair () {
  const [outbound, inbound] = multiaddrConnectionPair()
  const written = { frames: 0 }
  const send = inbound.send.bind(inbound)
  inbound.send = (data) => { written.frames++; return send(data) }
  const client = yamux()().createStreamMuxer(outbound)
  const server = yamux()().createStreamMuxer(inbound)
  const received = new Promise(resolve => server.addEventListener('stream', evt => resolve(evt.detail), { once: true }))
  return { client, server, received, written }
}

async function readAll (stream, bytes) {
  let got = 0
  for await (const chunk of stream) {
    got += chunk.byteLength
    if (got >= bytes) break
  }
  return got
}

test('the patch applies to this @libp2p/yamux', () => {
  assert.equal(halfWindowUpdates, true)
})

test('100 small messages cost the receiver at most a couple of window updates, not one each', async () => {
  const { client, server, received, written } = muxerPair()
  const stream = await client.createStream()
  stream.send(new Uint8Array(1)) // open it, and let the receiver accept it
  const far = await received
  await new Promise(resolve => setTimeout(resolve, 20))
  const before = written.frames
  const total = 100 * 1500
  const reading = readAll(far, total + 1)
  for (let i = 0; i < 100; i++) {
    if (!stream.send(new Uint8Array(1500).fill(i))) await stream.onDrain()
    await new Promise(resolve => setImmediate(resolve))
  }
  assert.equal(await reading, total + 1)
  const updates = written.frames - before
  // libp2p's own yamux answers each of the 100 frames (100 updates); half a 256 KiB window is 128 KiB
  assert.ok(updates <= 2, `${updates} window updates for 100 frames`)
  await client.close()
  await server.close()
})

test('4 MiB flows through a 256 KiB window: updates still come in time', async () => {
  const { client, server, received } = muxerPair()
  const stream = await client.createStream()
  stream.send(new Uint8Array(1))
  const far = await received
  const total = 4 * 1024 * 1024
  const reading = readAll(far, total + 1)
  for (let sent = 0; sent < total; sent += 64 * 1024) {
    if (!stream.send(new Uint8Array(64 * 1024))) await stream.onDrain({ signal: AbortSignal.timeout(5000) })
  }
  assert.equal(await reading, total + 1)
  await client.close()
  await server.close()
})
