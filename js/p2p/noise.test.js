// noise.js's frame splitter: the same frames as @libp2p/utils' decoder, however
// the bytes are cut, and no exception when a length is not all there yet.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { LengthPrefixedDecoder } from '@libp2p/utils'
import { Uint16Frames } from './noise.js'

function frame (payload) {
  return Buffer.concat([Buffer.from([payload.length >> 8, payload.length & 0xff]), payload])
}

test('frames come out whole and in order whatever the cut, with nothing thrown for a partial length', () => {
  const payloads = [Buffer.alloc(1, 1), Buffer.alloc(300, 2), Buffer.alloc(65535, 3), Buffer.alloc(0), Buffer.alloc(7, 4)]
  const wire = Buffer.concat(payloads.map(frame))
  for (const cut of [1, 2, 3, 1000, wire.length]) {
    const frames = new Uint16Frames(new LengthPrefixedDecoder({ maxBufferSize: 16 << 20 }))
    const out = []
    for (let i = 0; i < wire.length; i += cut) for (const f of frames.decode(wire.subarray(i, i + cut))) out.push(Buffer.from(f.subarray()))
    assert.deepEqual(out, payloads.filter(p => p.length > 0), `cut every ${cut} bytes`)
  }
})

test('the buffer limit of the decoder it replaces still holds', () => {
  const frames = new Uint16Frames(new LengthPrefixedDecoder({ maxBufferSize: 10 }))
  assert.throws(() => [...frames.decode(Buffer.alloc(11))], { name: 'InvalidParametersError' })
})
