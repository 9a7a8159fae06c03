// The Matrix server name is the libp2p peer ID of the Go-generated key: the
// two derivations (Go's, and libp2p's in createP2P) must agree byte for byte.
import './node-env.js'
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { createP2P } from './index.js'

const { vectors } = JSON.parse(await readFile(new URL('testdata/identity-vectors.json', import.meta.url), 'utf8'))
const RELAY = '/ip4/127.0.0.1/tcp/1/ws/p2p/12D3KooWBVJTuNBRmN6p3qYWbsiJXPVW9A1p6UPZhtrCajM2WnJo'

for (const vector of vectors) {
  test(`peer ID from a Go ed25519 key: ${vector.name}`, () => {
    const p2p = createP2P({ privateKey: Buffer.from(vector.privateKey, 'hex'), relayAddrs: [RELAY], serve: async () => {} })
    assert.equal(p2p.peerId, vector.peerId)
  })
}

test('a key whose public half does not match its seed is refused at start', async () => {
  const bytes = Buffer.from(vectors[0].privateKey, 'hex')
  bytes[63] ^= 1
  const p2p = createP2P({ privateKey: new Uint8Array(bytes), relayAddrs: [RELAY], serve: async () => {} })
  await assert.rejects(p2p.start(), /does not match the seed/)
})
