/**
 * A headless peer with several relays (issue 17's two small defects): it is
 * online on each, its status lines say so, and it exits within 5 s of
 * SIGTERM whether its relays are up, gone, or dying at the same moment.
 * Needs `npm run build` (dist/hearth.wasm).
 */
import '../p2p/node-env.js'
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRelay } from '../relay/index.js'
import { spawnPeer, tempRoot, waitForLine } from './harness.js'

const quiet = { log () {}, info () {}, warn () {}, debug () {} }


for (const [count, relaysThen] of [[3, 'up'], [2, 'gone'], [3, 'dying at the same moment']]) {
  test(`a peer with ${count} relays is online on each and exits within 5 s of SIGTERM, its relays ${relaysThen}`, { timeout: 90_000 }, async (t) => {
    const relays = Array.from({ length: count }, () => createRelay({ port: 0, logger: quiet }))
    await Promise.all(relays.map(r => r.start()))
    t.after(() => Promise.allSettled(relays.map(r => r.stop())))
    const { root: dir, stopLater } = await tempRoot(t, 'hearth-peer-')
    const peer = await spawnPeer(dir, relays.flatMap(r => ['--relay', r.multiaddrs()[0]]))
    stopLater(() => peer.kill())

    for (const r of relays) await waitForLine(peer, `peer: relay ${r.peerId} online`)
    if (relaysThen === 'gone') {
      const ids = relays.map(r => r.peerId)
      await Promise.all(relays.map(r => r.stop()))
      for (const id of ids) await waitForLine(peer, `peer: relay ${id} offline`)
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

function sleep (ms) {
  return new Promise(resolve => setTimeout(resolve, ms).unref())
}
