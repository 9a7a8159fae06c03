#!/usr/bin/env node
/**
 * Federation latency between two headless peers through a real relay, one
 * JSON object per line on stdout (never fails a build):
 *   federation.latency  ms from PUT /send on one peer until the message shows
 *                       in a long-polling /sync on the other, p50/p99, both
 *                       directions (A→B and B→A samples counted together)
 *   federation.join     ms for B's user to join A's room (make_join, send_join,
 *                       backfill) once the peers know each other
 * Usage: node js/peer/bench.js [--messages N] [--quick]
 * Needs `npm run build` (dist/hearth.wasm). Bounded to about 60 s: it stops
 * sending at the message count or after 40 s of sending, whichever is first.
 * The Go side's in-process numbers: go test -run '^$' -bench . ./go/federation/
 */
import '../p2p/node-env.js'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { createRelay } from '../relay/index.js'
import { ok as call, register, spawnPeer } from './harness.js'

const { values: options } = parseArgs({
  options: { messages: { type: 'string', default: '100' }, quick: { type: 'boolean', default: false } }
})
const messages = options.quick ? 20 : Number(options.messages)
const sendingBudgetMs = 40000
const print = row => console.log(JSON.stringify(row))

/** One user's /sync position; waitFor long-polls until an event shows. */
function syncer (peer, token, roomId) {
  let since = ''
  return {
    async catchUp () { since = (await call(peer, 'GET', '/_matrix/client/v3/sync?timeout=0', { token })).next_batch },
    async waitFor (eventId, timeoutMs = 30000) {
      const deadline = Date.now() + timeoutMs
      while (Date.now() < deadline) {
        const res = await call(peer, 'GET', `/_matrix/client/v3/sync?timeout=10000&since=${since}`, { token })
        since = res.next_batch
        const events = res.rooms?.join?.[roomId]?.timeline?.events ?? []
        if (events.some(ev => ev.event_id === eventId)) return performance.now()
      }
      throw new Error(`${eventId} did not arrive on ${peer.serverName}`)
    }
  }
}

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]
const round = x => Math.round(x * 100) / 100

async function main () {
  const relay = createRelay({ port: 0, logger: { log () {}, info () {}, warn () {} } })
  await relay.start()
  const dirs = await Promise.all([0, 1].map(() => mkdtemp(join(tmpdir(), 'hearth-bench-'))))
  const peers = []
  try {
    peers.push(...await Promise.all(dirs.map(d => spawnPeer(d, ['--relay', relay.multiaddrs()[0]], { timeoutMs: 30000 }))))
    const [a, b] = peers
    const [alice, bob] = await Promise.all([register(a, 'alice'), register(b, 'bob')])
    const roomId = (await call(a, 'POST', '/_matrix/client/v3/createRoom', { token: alice, body: { preset: 'public_chat' } })).room_id

    // Discovery through the relay takes a moment: retry the join until it works.
    const joinPath = `/_matrix/client/v3/join/${encodeURIComponent(roomId)}?server_name=${a.serverName}`
    let joinMs
    for (let tries = 0; ; tries++) {
      const start = performance.now()
      try {
        await call(b, 'POST', joinPath, { token: bob, body: {} })
        joinMs = performance.now() - start
        break
      } catch (err) {
        if (tries >= 40) throw err
        await new Promise(resolve => setTimeout(resolve, 250))
      }
    }
    print({ bench: 'federation.join', transport: 'libp2p-relay', ms: round(joinMs) })

    const sides = [
      { from: a, token: alice, to: syncer(b, bob, roomId) },
      { from: b, token: bob, to: syncer(a, alice, roomId) }
    ]
    await Promise.all(sides.map(s => s.to.catchUp()))
    const samples = []
    const started = performance.now()
    for (let i = 0; i < messages && performance.now() - started < sendingBudgetMs; i++) {
      const side = sides[i % 2]
      const path = `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/bench${i}`
      // The long-poll starts before the send, as a client's would be waiting.
      let resolveId
      const eventId = new Promise(resolve => { resolveId = resolve })
      const arrived = eventId.then(id => side.to.waitFor(id))
      const sent = performance.now()
      resolveId((await call(side.from, 'PUT', path, { token: side.token, body: { msgtype: 'm.text', body: `message ${i}` } })).event_id)
      samples.push((await arrived) - sent)
    }
    samples.sort((x, y) => x - y)
    print({
      bench: 'federation.latency',
      transport: 'libp2p-relay',
      servers: 2,
      messages: samples.length,
      p50_ms: round(percentile(samples, 0.5)),
      p99_ms: round(percentile(samples, 0.99)),
      max_ms: round(samples[samples.length - 1])
    })
  } finally {
    await Promise.all(peers.map(p => p.stop()))
    await relay.stop()
    await Promise.all(dirs.map(d => rm(d, { recursive: true, force: true })))
  }
}

main().catch((err) => {
  print({ bench: 'federation.latency', transport: 'libp2p-relay', error: err.message })
  process.exitCode = 0 // benchmarks never fail a build
})
