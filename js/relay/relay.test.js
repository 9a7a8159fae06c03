// The relay on its own: configuration from the environment, a stable key,
// and relayed connections without the libp2p default data/duration limit.
import '../p2p/node-env.js'
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { limitsFromEnv, peersFromEnv, startRelayFromEnv } from './from-env.js'
import { createRelay, DEFAULT_RELAY_LIMITS } from './index.js'
import { createP2P } from '../p2p/index.js'

const quiet = { log () {}, info () {}, warn () {} }

test('RELAY_KEY_FILE keeps the relay address across restarts; the port and mailbox are printed', { timeout: 20_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'hearth-relay-'))
  const lines = []
  const logger = { ...quiet, log: line => lines.push(line) }
  try {
    const env = { RELAY_PORT: '0', RELAY_KEY_FILE: join(dir, 'relay.key'), RELAY_MAILBOX_DIR: join(dir, 'mailbox') }
    const first = await startRelayFromEnv(env, logger)
    const id = first.peerId
    await first.stop()
    const second = await startRelayFromEnv(env, logger)
    assert.equal(second.peerId, id)
    await second.stop()
    assert.match(lines[0], /^relay: listening on port \d+$/)
    assert.equal(lines[1], `relay: mailbox in ${join(dir, 'mailbox')}`)
    assert.ok(lines.some(line => line.includes(`/ws/p2p/${id}`)))
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

test('limits come from RELAY_<LIMIT> variables; bad values are refused', { timeout: 20_000 }, async () => {
  const cases = [
    { env: {}, limits: {} },
    { env: { RELAY_MAX_RESERVATIONS: '3', RELAY_MAX_RESERVATIONS_PER_IP: '2', RELAY_PORT: '0' }, limits: { maxReservations: 3, maxReservationsPerIp: 2 } },
    { env: { RELAY_MAX_CONNECTIONS_PER_PEER: '1', RELAY_RESERVATION_TTL: '60000', RELAY_DATA_LIMIT: '' }, limits: { maxConnectionsPerPeer: 1, reservationTtl: 60000 } },
    { env: { RELAY_MAX_CONNECTIONS_PER_IP: '0' }, error: /RELAY_MAX_CONNECTIONS_PER_IP 0 is not a positive whole number/ },
    { env: { RELAY_MAX_HOP_STREAMS: '1.5' }, error: /RELAY_MAX_HOP_STREAMS/ },
    { env: { RELAY_DURATION_LIMIT: 'forever' }, error: /RELAY_DURATION_LIMIT/ }
  ]
  for (const { env, limits, error } of cases) {
    if (error) assert.throws(() => limitsFromEnv(env), error)
    else assert.deepEqual(limitsFromEnv(env), limits)
  }
  const relay = await startRelayFromEnv({ RELAY_PORT: '0', RELAY_MAX_RESERVATIONS_PER_IP: '2', RELAY_MAILBOX_DIR: 'off' }, quiet)
  try {
    assert.equal(relay.limits.maxReservationsPerIp, 2)
    assert.equal(relay.limits.maxReservations, DEFAULT_RELAY_LIMITS.maxReservations)
  } finally {
    await relay.stop()
  }
})

test('RELAY_PEERS lists other relays by multiaddr; anything else is refused before the relay starts', () => {
  const addr = '/ip4/127.0.0.1/tcp/8082/ws/p2p/12D3KooWBVJTuNBRmN6p3qYWbsiJXPVW9A1p6UPZhtrCajM2WnJo'
  assert.deepEqual(peersFromEnv({}), [])
  assert.deepEqual(peersFromEnv({ RELAY_PEERS: ` ${addr} ,, ${addr.replace('8082', '8083')}` }), [addr, addr.replace('8082', '8083')])
  assert.throws(() => peersFromEnv({ RELAY_PEERS: '/ip4/127.0.0.1/tcp/8082/ws' }), /RELAY_PEERS: .* is not a relay multiaddr/)
  assert.throws(() => peersFromEnv({ RELAY_PEERS: 'relay.example.org:8082' }), /RELAY_PEERS/)
  assert.throws(() => peersFromEnv({ RELAY_PEERS: `${addr}/p2p-circuit/p2p/12D3KooWBVJTuNBRmN6p3qYWbsiJXPVW9A1p6UPZhtrCajM2WnJo` }), /RELAY_PEERS/)
})

test('relayed connections carry no data or duration limit, and joins and leaves are logged', { timeout: 20_000 }, async () => {
  const events = []
  const relay = createRelay({ port: 0, logger: { info: line => events.push(line) } })
  await relay.start()
  const serve = async (head, body) => ({ status: 200, headers: [], body })
  const a = createP2P({ privateKey: (await generateKeyPair('Ed25519')).raw, relayAddrs: relay.multiaddrs(), serve })
  const b = createP2P({ privateKey: (await generateKeyPair('Ed25519')).raw, relayAddrs: relay.multiaddrs(), serve })
  try {
    await a.start()
    await b.start()
    await a.waitForPeer(b.peerId, { signal: AbortSignal.timeout(3000) })
    // 3 MiB: well past libp2p's default 128 KiB per relayed connection
    const body = new Uint8Array(3 * 1024 * 1024).fill(7)
    // A body goes only with an X-Matrix origin (the signature itself is Go's to check).
    const headers = [['authorization', `X-Matrix origin="${a.peerId}",key="ed25519:p2p",sig="unchecked in JS"`]]
    const res = await a.roundTrip(b.peerId, { head: JSON.stringify({ method: 'PUT', url: '/_matrix/federation/v1/send/1', headers }), body })
    assert.equal(res.body.byteLength, body.byteLength)
    const relayed = a.libp2p.getConnections().filter(c => c.remotePeer.toString() === b.peerId)
    assert.ok(relayed.length > 0)
    for (const connection of relayed) assert.equal(connection.limits, undefined)
    assert.deepEqual(relay.present().sort(), [a.peerId, b.peerId].sort())
    await b.stop()
    for (let i = 0; i < 100 && relay.present().length !== 1; i++) await new Promise(resolve => setTimeout(resolve, 20))
    assert.deepEqual(relay.present(), [a.peerId])
    assert.ok(events.some(line => line.startsWith(`relay: peer joined ${b.peerId}`)))
    assert.ok(events.some(line => line.startsWith(`relay: peer left ${b.peerId}`)))
  } finally {
    await Promise.allSettled([a.stop(), b.stop()])
    await relay.stop()
  }
})
