/**
 * A headless peer with several relays (issue 17's two small defects): it is
 * online on each, its status lines say so, and it exits within 5 s of
 * SIGTERM whether its relays are up, gone, or dying at the same moment.
 * Needs `npm run build` (dist/hearth.wasm).
 */
import '../p2p/node-env.js'
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createRelay } from '../relay/index.js'
import { spawnPeer } from './harness.js'

const quiet = { log () {}, info () {}, warn () {}, debug () {} }

/** Resolves once every relay has a "peer: relay <id> online" line in the peer's output. */
async function onlineOnAll (peer, relays, ms = 20_000) {
  const deadline = Date.now() + ms
  const missing = () => relays.filter(r => !peer.output().includes(`peer: relay ${r.peerId} online`))
  while (missing().length > 0) {
    if (Date.now() > deadline) throw new Error(`not online on ${missing().map(r => r.peerId)}:\n${peer.output()}`)
    await new Promise(resolve => setTimeout(resolve, 50))
  }
}

for (const [count, relaysThen] of [[3, 'up'], [2, 'gone'], [3, 'dying at the same moment']]) {
  test(`a peer with ${count} relays is online on each and exits within 5 s of SIGTERM, its relays ${relaysThen}`, { timeout: 90_000 }, async (t) => {
    const relays = Array.from({ length: count }, () => createRelay({ port: 0, logger: quiet }))
    await Promise.all(relays.map(r => r.start()))
    t.after(() => Promise.allSettled(relays.map(r => r.stop())))
    const dir = await mkdtemp(join(tmpdir(), 'hearth-peer-'))
    t.after(() => rm(dir, { recursive: true, force: true }))
    const peer = await spawnPeer(dir, relays.flatMap(r => ['--relay', r.multiaddrs()[0]]))
    t.after(() => peer.kill())

    await onlineOnAll(peer, relays)
    if (relaysThen === 'gone') {
      const ids = relays.map(r => r.peerId)
      await Promise.all(relays.map(r => r.stop()))
      for (const id of ids) await waitFor(peer, `peer: relay ${id} offline`)
    }
    const began = Date.now()
    const exited = peer.stop()
    if (relaysThen === 'dying at the same moment') await Promise.all(relays.map(r => r.stop()))
    const code = await Promise.race([exited, sleep(5000).then(() => 'still running')])
    const ms = Date.now() - began
    t.diagnostic(`exited ${code} after ${ms} ms`)
    assert.equal(code, 0, `not stopped 5 s after SIGTERM:\n${peer.output()}`)
    assert.doesNotMatch(peer.output(), /exiting anyway/)
  })
}

async function waitFor (peer, line, ms = 10_000) {
  const deadline = Date.now() + ms
  while (!peer.output().includes(line)) {
    if (Date.now() > deadline) throw new Error(`no "${line}":\n${peer.output()}`)
    await new Promise(resolve => setTimeout(resolve, 50))
  }
}

function sleep (ms) {
  return new Promise(resolve => setTimeout(resolve, ms).unref())
}
