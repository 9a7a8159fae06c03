/**
 * relay.flood: the relay under load (issue 11). A relay in its own process,
 * PEERS honest peers in this one, and one flooding peer with the
 * FLOOD_TARGETS peers it floods in a third (bench/relay-flood-child.js), all
 * on loopback: the flood shares only the relay (and the machine's cores)
 * with the measured peers. The per-IP caps are raised for the run: every
 * peer here is 127.0.0.1.
 *
 *   relay.flood.probe.unloaded      honest request latency, small bodies, between PROBES pairs of
 *                                   honest peers taking turns (p50/p99), nobody flooding
 *   relay.flood.probe.flooded       the same while the flooder keeps FLOOD_IN_FLIGHT requests of
 *                                   64 KiB going to its FLOOD_TARGETS peers
 *   relay.flood.probe.slowdown      flooded p50 / unloaded p50 (the issue asks for ≤ 2)
 *   relay.flood.flooder.requests-per-s   what the flooder got through, and how much of it was
 *                                   refused (429: the targets' per-peer byte budget) — whether
 *                                   anyone throttles it
 *   relay.flood.relay-rss-mib       the relay's resident memory: after the peers joined, and the
 *                                   peak during the flood
 *
 * Bounded: PEERS peers (50 with --quick), FLOOD_SECONDS of flood, PROBE_ROUNDS rounds per phase.
 */
import { fork } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { latencyRow, valueRow, round } from './rows.js'

const PEERS = 200
const PROBES = 10
const PROBE_ROUNDS = 30
const FLOOD_TARGETS = 10
const FLOOD_IN_FLIGHT = 64
const FLOOD_BODY_BYTES = 64 * 1024
const FLOOD_SECONDS = 10

export async function relayFlood ({ quick, deadline, emit }) {
  await import('../js/p2p/node-env.js') // Node polyfills for libp2p: only in this benchmark's process
  const { createP2P } = await import('../js/p2p/index.js')
  const { generateKeyPair } = await import('@libp2p/crypto/keys')
  const count = quick ? 50 : PEERS
  const relay = await startRelay(count)
  const peers = []
  let flooder = null
  try {
    const serve = async () => ({ status: 200, headers: [], body: new Uint8Array(0) })
    for (let i = 0; i < count; i++) {
      peers.push(createP2P({ privateKey: (await generateKeyPair('Ed25519')).raw, relayAddrs: [relay.addr], serve }))
    }
    const joinStarted = performance.now()
    for (let i = 0; i < count; i += 25) await Promise.all(peers.slice(i, i + 25).map(p => p.start()))
    await until(() => peers.every(p => p.relays()[0]?.online), 120_000, 'not every peer got on the relay')
    emit(valueRow('relay.flood.join-s', 's', round((performance.now() - joinStarted) / 1000), { samples: count, note: `${count} peers started 25 at a time until all were on the relay` }))
    const rssJoined = await rssMiB(relay.child.pid)

    // probes: peers 0..PROBES-1 ask peers PROBES..2·PROBES-1
    const pairs = Array.from({ length: PROBES }, (_, i) => [peers[i], peers[PROBES + i]])
    await Promise.all(pairs.map(([a, b]) => a.waitForPeer(b.peerId, { signal: AbortSignal.timeout(30_000) })))
    const probe = async () => {
      const times = []
      for (let r = 0; r < (quick ? 10 : PROBE_ROUNDS) && Date.now() < deadline; r++) {
        await Promise.all(pairs.map(async ([a, b]) => {
          const began = performance.now()
          await a.roundTrip(b.peerId, smallRequest(a.peerId))
          times.push(performance.now() - began)
        }))
      }
      return times
    }
    await probe() // warm the relayed connections
    const unloaded = await probe()
    emit(latencyRow('relay.flood.probe.unloaded', unloaded, { note: `${PROBES} pairs of ${count} honest peers, 256-byte bodies, nobody flooding` }))

    flooder = fork(fileURLToPath(new URL('./relay-flood-child.js', import.meta.url)), { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] })
    const floodReady = message(flooder)
    flooder.send({ relay: relay.addr, targets: FLOOD_TARGETS, inFlight: FLOOD_IN_FLIGHT, bodyBytes: FLOOD_BODY_BYTES })
    await floodReady
    let rssPeak = rssJoined
    const sampler = setInterval(async () => { rssPeak = Math.max(rssPeak, await rssMiB(relay.child.pid) ?? 0) }, 250)
    const floodStarted = performance.now()
    const flooded = []
    while (performance.now() - floodStarted < (quick ? 5 : FLOOD_SECONDS) * 1000 && Date.now() < deadline) flooded.push(...await probe())
    const counts = message(flooder)
    flooder.send('stop')
    const got = await counts
    const floodSeconds = (performance.now() - floodStarted) / 1000
    clearInterval(sampler)

    emit(latencyRow('relay.flood.probe.flooded', flooded, { note: `the same, while one peer keeps ${FLOOD_IN_FLIGHT} × 64 KiB requests going to ${FLOOD_TARGETS} peers of its own process` }))
    const p50 = xs => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
    emit(valueRow('relay.flood.probe.slowdown', 'x', round(p50(flooded) / p50(unloaded)), { samples: flooded.length, note: 'flooded p50 / unloaded p50 (issue 11 asks for ≤ 2)' }))
    emit(valueRow('relay.flood.flooder.requests-per-s', 'requests/s', Math.round(got.sent / floodSeconds), {
      samples: got.sent,
      note: `answered ${got.ok}, refused 429 ${got.refused}, failed ${got.failed}; ${round(got.bytes / floodSeconds / 2 ** 20)} MiB/s of bodies through the relay`
    }))
    emit(valueRow('relay.flood.relay-rss-mib', 'MiB', rssPeak, { samples: 1, note: `peak during the flood; ${rssJoined} MiB with ${count} peers before it` }))
  } finally {
    flooder?.kill('SIGKILL')
    // the relay first, and wait for it: it logs every peer that leaves, and must not write to a closed pipe
    const exited = new Promise(resolve => relay.child.once('exit', resolve))
    relay.child.kill('SIGTERM')
    await Promise.race([exited, new Promise(resolve => setTimeout(resolve, 5000))])
    await Promise.allSettled(peers.map(p => p.stop()))
  }
  return []
}

function smallRequest (origin) {
  return {
    head: JSON.stringify({ method: 'PUT', url: '/_matrix/federation/v1/send/probe', headers: [['authorization', `X-Matrix origin="${origin}",key="ed25519:a",sig="x"`]] }),
    body: new Uint8Array(256)
  }
}

/** The relay CLI in its own process, its caps raised for `count` peers on one IP. */
async function startRelay (count) {
  const { spawnRelay } = await import('./p2p.js')
  const cap = String(count * 4 + 64)
  return spawnRelay({
    RELAY_MAX_RESERVATIONS: cap,
    RELAY_MAX_RESERVATIONS_PER_IP: cap,
    RELAY_MAX_CONNECTIONS: cap,
    RELAY_MAX_CONNECTIONS_PER_IP: cap,
    RELAY_MAX_CONNECTIONS_PER_SECOND_PER_HOST: cap,
    RELAY_MAX_HOP_STREAMS: cap
  })
}

/** Resident memory of a process in MiB (Linux /proc), or null. */
async function rssMiB (pid) {
  try {
    const kib = Number((await readFile(`/proc/${pid}/status`, 'utf8')).match(/VmRSS:\s+(\d+)/)[1])
    return Math.round(kib / 1024)
  } catch {
    return null
  }
}

function message (child) {
  return new Promise((resolve, reject) => {
    child.once('message', resolve)
    child.once('exit', code => reject(new Error(`the flooder exited (${code})`)))
  })
}

async function until (condition, ms, what) {
  const end = Date.now() + ms
  while (!condition()) {
    if (Date.now() > end) throw new Error(what)
    await new Promise(resolve => setTimeout(resolve, 100))
  }
}
