/**
 * p2p: js/p2p as benchmark rows (libp2p over WebSockets on loopback,
 * through a circuit relay; peers in this process, the relay-load relay in its own):
 *
 *   p2p.discovery                          two peers start → both know each other (p99 is the max)
 *   p2p.roundtrip.relay.<body>             federation request/response through the relay
 *   p2p.relay-load.<n>.requests-per-s      n peers all sending at once (bounded by the peers' process)
 *   p2p.relay-load.<n>.per-relay-cpu-s     requests per CPU-second of the relay: its per-core capacity
 *   p2p.relay-load.<n>.relay-cpu-share     relay CPU seconds per wall second during the run
 *
 * Rows are reported as they are measured, so a run cut short keeps what it had.
 * The relay-load relay runs as the relay CLI (npm run relay) in its own
 * process so that its CPU time is its own (Linux /proc); the peers share this
 * one, so requests/s is bounded by them.
 */
import '../js/p2p/node-env.js' // Node polyfills for libp2p: this module runs in its own process (bench/child.js)
import { readFile } from 'node:fs/promises'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { createRelay } from '../js/relay/index.js'
import { createP2P } from '../js/p2p/index.js'
import { spawnRelayProcess } from '../js/relay/testing.js'
import { percentile, valueRow } from './rows.js'

const serve = async (head, body) => ({ status: 200, headers: [], body })

async function newPeer (relay) {
  const key = (await generateKeyPair('Ed25519')).raw
  return createP2P({ privateKey: key, relayAddrs: relay.multiaddrs(), serve })
}

/**
 * A relay in a child process (js/relay/testing.js; implementation 'js': the
 * relay CLI, 'go': the Go relay); resolves once it printed its address.
 * Every peer here is on 127.0.0.1, so the per-IP caps are lifted above the
 * 50 peers of relay-load (env overrides them, e.g. for more peers); no
 * mailbox: this measures relaying, and must not lock the working directory's store.
 * BENCH_RELAY_NODE_ARGS (space-separated) are passed to the relay's node, to profile it:
 * e.g. `BENCH_RELAY_NODE_ARGS='--cpu-prof --cpu-prof-dir=prof'` (NODE_OPTIONS refuses --cpu-prof).
 * @param {Record<string, string>} [env] more RELAY_* settings
 * @param {{implementation?: 'js' | 'go'}} [options]
 * @returns {Promise<{child: import('node:child_process').ChildProcess, addr: string, multiaddrs: () => string[]}>}
 */
export async function spawnRelay (env = {}, { implementation = 'js' } = {}) {
  const nodeArgs = (process.env.BENCH_RELAY_NODE_ARGS ?? '').split(' ').filter(arg => arg !== '')
  const relay = await spawnRelayProcess({ RELAY_MAX_RESERVATIONS_PER_IP: '256', RELAY_MAX_CONNECTIONS_PER_IP: '1024', RELAY_MAILBOX_DIR: 'off', ...env },
    { implementation, nodeArgs })
  return { ...relay, multiaddrs: () => [relay.addr] }
}

/** CPU seconds used so far by a process (user + system), or null off Linux. */
export async function cpuSecondsOf (pid) {
  try {
    const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1].split(' ')
    return (Number(fields[11]) + Number(fields[12])) / 100 // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return null
  }
}

/** From `from`: a body needs an X-Matrix origin that is its sender, else the answerer refuses it (401) unread. */
function request (size, from) {
  return {
    head: JSON.stringify({ method: 'PUT', url: '/_matrix/federation/v1/send/bench', headers: [['authorization', `X-Matrix origin="${from.peerId}",key="ed25519:a",sig="x"`]] }),
    body: size === 0 ? null : new Uint8Array(size).fill(1)
  }
}

async function discovery (relay, { quick, print }) {
  const rounds = quick ? 3 : 10
  const times = []
  for (let i = 0; i < rounds; i++) {
    const [a, b] = [await newPeer(relay), await newPeer(relay)]
    const began = performance.now()
    await Promise.all([a.start(), b.start()])
    await Promise.all([a.waitForPeer(b.peerId), b.waitForPeer(a.peerId)])
    times.push(performance.now() - began)
    await Promise.all([a.stop(), b.stop()])
  }
  times.sort((x, y) => x - y)
  print({ bench: 'discovery', rounds, p50_ms: round(percentile(times, 0.5)), max_ms: round(times.at(-1)) })
}

async function roundtrip (relay, { quick, print }) {
  const [a, b] = [await newPeer(relay), await newPeer(relay)]
  await Promise.all([a.start(), b.start()])
  await a.waitForPeer(b.peerId)
  for (const size of [0, 64 * 1024]) {
    const n = quick ? 100 : 1000
    for (let i = 0; i < 20; i++) await a.roundTrip(b.peerId, request(size, a)) // warm up
    const times = []
    for (let i = 0; i < n; i++) {
      const began = performance.now()
      await a.roundTrip(b.peerId, request(size, a))
      times.push(performance.now() - began)
    }
    times.sort((x, y) => x - y)
    print({ bench: 'roundtrip', via: 'relay', body_bytes: size, n, p50_ms: round(percentile(times, 0.5)), p99_ms: round(percentile(times, 0.99)) })
  }
  await Promise.all([a.stop(), b.stop()])
}

async function relayLoad (relay, count, { quick, print }) {
  const peers = []
  for (let i = 0; i < count; i++) peers.push(await newPeer(relay))
  await Promise.all(peers.map(p => p.start()))
  await Promise.all(peers.flatMap(p => peers.filter(q => q !== p).map(q => p.waitForPeer(q.peerId))))
  const seconds = quick ? 2 : 5
  const deadline = performance.now() + seconds * 1000
  let done = 0
  const relayCpuBefore = await cpuSecondsOf(relay.child.pid)
  const began = performance.now()
  await Promise.all(peers.map(async (p, i) => {
    const target = peers[(i + 1) % peers.length].peerId
    while (performance.now() < deadline) {
      await p.roundTrip(target, request(256, p))
      done++
    }
  }))
  const elapsed = (performance.now() - began) / 1000
  const relayCpu = relayCpuBefore == null ? null : (await cpuSecondsOf(relay.child.pid)) - relayCpuBefore
  print({
    bench: 'relay-load',
    peers: count,
    requests: done,
    requests_per_s: Math.round(done / elapsed),
    relay_cpu_share: relayCpu == null ? null : round(relayCpu / elapsed),
    requests_per_relay_cpu_s: relayCpu == null || relayCpu === 0 ? null : Math.round(done / relayCpu),
    note: 'one request = one relayed stream carrying a request and its response; peers share one process'
  })
  await Promise.all(peers.map(p => p.stop()))
}

function round (ms) {
  return Math.round(ms * 100) / 100
}

export async function p2p ({ quick, emit }) {
  const options = { quick, print: (r) => { for (const row of toRows(r)) emit(row) } }
  const relay = createRelay({ port: 0 })
  await relay.start()
  try {
    await discovery(relay, options)
    await roundtrip(relay, options)
  } finally {
    await relay.stop()
  }
  const child = await spawnRelay()
  try {
    for (const count of quick ? [2, 10] : [2, 10, 50]) await relayLoad(child, count, options)
  } finally {
    child.child.kill('SIGTERM')
  }
  return []
}

function toRows (r) {
  switch (r.bench) {
    case 'discovery':
      return [{ name: 'p2p.discovery', unit: 'ms', p50: r.p50_ms, p99: r.max_ms, samples: r.rounds, note: 'p99 is the max' }]
    case 'roundtrip': {
      const body = r.body_bytes === 0 ? 'empty' : `${r.body_bytes / 1024}kib`
      return [{ name: `p2p.roundtrip.${r.via}.${body}`, unit: 'ms', p50: r.p50_ms, p99: r.p99_ms, samples: r.n, note: `body ${r.body_bytes} bytes each way` }]
    }
    case 'relay-load': {
      const base = `p2p.relay-load.${r.peers}`
      const rows = [valueRow(`${base}.requests-per-s`, 'requests/s', r.requests_per_s, { samples: r.requests, note: r.note })]
      if (r.requests_per_relay_cpu_s != null) {
        rows.push(valueRow(`${base}.per-relay-cpu-s`, 'requests/cpu-s', r.requests_per_relay_cpu_s, { samples: r.requests, note: 'relayed requests per CPU-second of the relay process' }))
      }
      if (r.relay_cpu_share != null) {
        rows.push(valueRow(`${base}.relay-cpu-share`, 'cores', r.relay_cpu_share, { samples: r.requests, note: 'relay CPU seconds per wall second' }))
      }
      return rows
    }
    default:
      return [{ name: `p2p.${r.bench ?? 'unknown'}`, unit: 'json', value: JSON.stringify(r), samples: 1 }]
  }
}
