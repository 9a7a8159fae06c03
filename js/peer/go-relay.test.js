/**
 * Any circuit relay v2 carries Hearth (issue 17): two headless peers on a
 * stock go-libp2p relay (test/go-relay, built here with `go build`) are
 * online on it, say it offers none of Hearth's extras, and federate: a
 * message goes each way through the client API. The go-libp2p relay speaks
 * first on every connection, so this also exercises node-env.js's hold on
 * early WebSocket frames for real.
 * Needs `npm run build` (dist/hearth.wasm) and Go (skipped, saying so, without).
 */
import '../p2p/node-env.js'
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { buildGoRelay, startGoRelay } from '../../test/go-relay/relay.js'
import { privateRoom, register, say, spawnPeer, tempRoot, waitForLine, waitForMessage } from './harness.js'

test('two headless peers federate through a stock go-libp2p relay', { timeout: 600_000 }, async (t) => {
  const { root: dir, stopLater } = await tempRoot(t, 'hearth-go-relay-')
  let binary
  try {
    binary = await buildGoRelay(dir)
  } catch (err) {
    if (err.name === 'GoMissingError') return t.skip(`${err.message}: cannot build the go-libp2p relay`)
    throw err
  }
  const relay = await startGoRelay(binary)
  stopLater(() => relay.stop())
  const relayId = relay.multiaddrs()[0].split('/p2p/')[1]

  const relayArgs = ['--relay', relay.multiaddrs()[0]]
  const a = await spawnPeer(join(dir, 'a'), relayArgs)
  stopLater(() => a.stop())
  const b = await spawnPeer(join(dir, 'b'), relayArgs)
  stopLater(() => b.stop())
  for (const peer of [a, b]) await waitForLine(peer, `peer: relay ${relayId} online (relaying only)`)

  const alice = { peer: a, user: '@alice:' + a.serverName, token: await register(a, 'alice') }
  const bob = { peer: b, user: '@bob:' + b.serverName, token: await register(b, 'bob') }
  const roomId = await privateRoom(alice, [bob])
  await say(a, alice.token, roomId, 'hello from A')
  await waitForMessage(b, bob.token, roomId, 'hello from A')
  await say(b, bob.token, roomId, 'hello from B')
  await waitForMessage(a, alice.token, roomId, 'hello from B')
  assert.doesNotMatch(a.output() + b.output(), /could not negotiate|presence on relay .* unavailable/)
})
