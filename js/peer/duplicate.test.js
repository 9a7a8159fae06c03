// Move, not copy: two headless peers started from copies of one data
// directory are one server twice. The second to reach the relay hears from
// it that its peer ID is already present, refuses to go online and exits
// saying why; the first stays online and keeps its mail.
import '../p2p/node-env.js'
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { cp } from 'node:fs/promises'
import { join } from 'node:path'
import { createRelay } from '../relay/index.js'
import { ok, register, spawnPeer, tempRoot } from './harness.js'

const quiet = { log () {}, info () {}, warn () {} }

test('a second live copy of one server is refused by itself, with the reason, and the first stays online', { timeout: 120000 }, async (t) => {
  const { root: dir, stopLater } = await tempRoot(t, 'hearth-duplicate-')
  const relay = createRelay({ port: 0, logger: quiet })
  await relay.start()
  stopLater(() => relay.stop())
  const relayArgs = ['--relay', relay.multiaddrs()[0]]

  // One server with a user, stopped, and its directory copied.
  let first = await spawnPeer(join(dir, 'original'))
  const token = await register(first, 'twin')
  await first.stop()
  await cp(join(dir, 'original'), join(dir, 'copy'), { recursive: true })

  first = await spawnPeer(join(dir, 'original'), relayArgs)
  stopLater(() => first.stop())
  await waitFor(() => relay.present().includes(first.serverName), 'the first copy on the relay')

  let second
  try {
    second = await spawnPeer(join(dir, 'copy'), relayArgs)
  } catch (err) {
    // It may exit before it says it is on the network: fine, as long as it says why.
    assert.match(err.message, /exited with 3/)
    assert.match(err.message, /another copy of this server .* is already online/)
    second = null
  }
  if (second !== null) {
    stopLater(() => second.kill())
    assert.equal(await second.exited, 3, second.output())
    assert.match(second.output(), /another copy of this server \(\S+\) is already online on relay/)
  }

  // The first copy is untouched: still present, still serving.
  await new Promise(resolve => setTimeout(resolve, 500))
  assert.ok(relay.present().includes(first.serverName), 'the first copy left the relay')
  assert.equal((await ok(first, 'GET', '/_matrix/client/v3/account/whoami', { token })).user_id, `@twin:${first.serverName}`)
})

async function waitFor (check, what, timeoutMs = 20000) {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 100))
  }
}
