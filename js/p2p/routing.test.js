// What a peer takes from a relay's routing answer (routing.js): relay
// addresses ending in a peer ID, nothing else, and a bounded number.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { MAX_ROUTING_ADDRS, parseRoutingMessage, relayAddrsFrom, relayIdOf } from './routing.js'

const id = '12D3KooWBVJTuNBRmN6p3qYWbsiJXPVW9A1p6UPZhtrCajM2WnJo'
const addr = `/ip4/127.0.0.1/tcp/8082/ws/p2p/${id}`

test('relay addresses from the wire: only multiaddrs ending in /p2p/<id>, no circuits, at most MAX_ROUTING_ADDRS', () => {
  assert.deepEqual(relayAddrsFrom([addr]).map(String), [addr])
  assert.equal(relayIdOf(relayAddrsFrom([addr])[0]), id)
  for (const bad of [undefined, null, 'x', {}, 7]) assert.deepEqual(relayAddrsFrom(bad), [])
  assert.deepEqual(relayAddrsFrom([
    '/ip4/127.0.0.1/tcp/8082/ws', // no peer ID
    `${addr}/p2p-circuit/p2p/${id}`, // a peer behind a relay, not a relay
    'not a multiaddr',
    42,
    null,
    `/ip4/127.0.0.1/tcp/8082/ws/p2p/${id}${'x'.repeat(400)}`
  ]), [])
  assert.equal(relayAddrsFrom(Array.from({ length: MAX_ROUTING_ADDRS + 10 }, () => addr)).length, MAX_ROUTING_ADDRS)
})

test('a routing message must be a JSON object', () => {
  const bytes = (text) => new TextEncoder().encode(text)
  assert.deepEqual(parseRoutingMessage(bytes('{"relays":[]}')), { relays: [] })
  for (const bad of ['[]', 'null', '"x"', '{', '']) {
    assert.throws(() => parseRoutingMessage(bytes(bad)), { name: 'P2PProtocolError' })
  }
})
