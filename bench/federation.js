/**
 * federation: message latency from a send on one server to its arrival in a
 * long-polling /sync on the others, and catch-up of a returning server.
 *
 *   federation.inprocess.*  Go servers in one process over the in-process
 *                           transport (go/federation/bench_test.go): 2 and 10
 *                           servers, and 1,000 missed events caught up
 *   federation.relay.*      two headless peers (the real wasm, dist/hearth.wasm
 *                           from `npm run build`) through a real libp2p relay
 *                           on loopback: join, and message latency both ways
 *
 * The Go benchmarks print one JSON object per line ({"bench": …}), turned
 * into rows here; the relay rows are measured here.
 */
import '../js/p2p/node-env.js' // Node polyfills for libp2p: this module runs in its own process (bench/child.js)
import { execFile } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { ok as call, register, spawnPeer } from '../js/peer/harness.js'
import { createRelay } from '../js/relay/index.js'
import { errorRow, latencyRow, valueRow } from './rows.js'

const run = promisify(execFile)

export async function federation ({ root, quick, deadline }) {
  const rows = []
  // Latency samples one message per iteration; catch-up is one whole run.
  const goRuns = [['MessageLatency', quick ? '20x' : '100x'], ['CatchUp', '1x']]
  for (const [bench, times] of goRuns) {
    try {
      const { stdout } = await run('go', ['test', '-run', '^$', '-bench', `^Benchmark${bench}$`, '-benchtime', times, './go/federation/'], {
        cwd: root, timeout: Math.max(15_000, Math.floor((deadline - Date.now()) * 0.3)), maxBuffer: 8 << 20
      })
      for (const r of jsonLines(stdout)) rows.push(inProcessRow(r))
    } catch (err) {
      rows.push(errorRow(`federation.inprocess.${bench}`, err))
    }
  }
  try {
    // Sending stops at the message count or 2 s before the deadline, whichever is first.
    await relayRows({ messages: quick ? 20 : 50, deadline: deadline - 2_000, rows })
  } catch (err) {
    rows.push(errorRow('federation.relay', err))
  }
  return rows
}

function jsonLines (stdout) {
  return stdout.split('\n').filter((line) => line.startsWith('{"bench"')).map((line) => JSON.parse(line))
}

function inProcessRow (r) {
  if (r.bench === 'federation.latency') {
    return { name: `federation.inprocess.latency.${r.servers}servers`, unit: 'ms', p50: r.p50_ms, p99: r.p99_ms, samples: r.messages * (r.servers - 1) }
  }
  if (r.bench === 'federation.catchup') {
    return valueRow(`federation.inprocess.catchup.${r.events}events`, 'ms', r.ms, { note: `${Math.round(r.events_per_s)} events/s` })
  }
  return errorRow(`federation.inprocess.${r.bench}`, `unknown row ${JSON.stringify(r)}`)
}

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

/** Measures two headless peers through a relay, pushing rows as they are measured (a failure keeps them). */
async function relayRows ({ messages, deadline, rows }) {
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
    rows.push(valueRow('federation.relay.join', 'ms', joinMs, { note: "B's user joins A's room (make_join, send_join, backfill) once the peers know each other" }))

    const sides = [
      { from: a, token: alice, to: syncer(b, bob, roomId) },
      { from: b, token: bob, to: syncer(a, alice, roomId) }
    ]
    await Promise.all(sides.map(s => s.to.catchUp()))
    const samples = []
    for (let i = 0; i < messages && Date.now() < deadline; i++) {
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
    rows.push(latencyRow('federation.relay.latency', samples, {
      note: 'PUT /send on one headless peer → the message in a long-polling /sync on the other, through a libp2p relay on loopback; both directions'
    }))
  } finally {
    await Promise.all(peers.map(p => p.stop()))
    await relay.stop()
    await Promise.all(dirs.map(d => rm(d, { recursive: true, force: true })))
  }
}
