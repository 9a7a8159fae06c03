/**
 * relay.routing: peers found by peer ID across linked relays (issue 17).
 * Three relays (the relay CLI, each its own process, linked with RELAY_PEERS
 * in a chain) on loopback; relay.routing-go: the same rows with the Go relay:
 *
 *   relay.routing.reach-across.first-request   a peer on one relay sends its first
 *       request to a peer on another (they share none): dial through ours fails,
 *       lookup, dial through theirs, request and answer; fresh pair each sample
 *   relay.routing.<n>-peers.reservation        n simulated peers (bare libp2p nodes,
 *       one relay each, round robin) started in batches: start → reservation held
 *   relay.routing.<n>-peers.lookup             "find" asked of one's own relay for a
 *       random peer on another relay, with n peers online (p99 column: p95, see note)
 *   relay.routing.<n>-peers.relay-cpu-s        CPU seconds per relay for the whole run
 *   relay.routing.<n>-peers.relay-rss-mib      resident memory per relay with n peers on
 */
import '../js/p2p/node-env.js'
import { readFile } from 'node:fs/promises'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { identify } from '@libp2p/identify'
import { webSockets } from '@libp2p/websockets'
import { yamux } from '@libp2p/yamux'
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { createLibp2p } from 'libp2p'
import { noise } from '../js/p2p/noise.js'
import { createP2P } from '../js/p2p/index.js'
import { askRouting } from '../js/p2p/routing.js'
import { cpuSecondsOf, spawnRelay } from './p2p.js'
import { latencyRow, percentile, round, valueRow } from './rows.js'

const RELAY_ENV = {
  RELAY_MAX_RESERVATIONS: '2048',
  RELAY_MAX_RESERVATIONS_PER_IP: '2048',
  RELAY_MAX_CONNECTIONS: '8192',
  RELAY_MAX_CONNECTIONS_PER_IP: '8192',
  RELAY_MAX_CONNECTIONS_PER_SECOND_PER_HOST: '2000',
  RELAY_MAX_PENDING_CONNECTIONS: '512'
}

/** The JavaScript relays (js/relay). */
export function relayRouting (options) {
  return routing(options, { implementation: 'js', prefix: 'relay.routing' })
}

/** The same with the Go relays (go/relay): rows relay.routing-go.* */
export function relayRoutingGo (options) {
  return routing(options, { implementation: 'go', prefix: 'relay.routing-go' })
}

async function routing ({ quick, deadline, emit, log }, { implementation, prefix }) {
  const spawn = env => spawnRelay(env, { implementation })
  const r1 = await spawn(RELAY_ENV)
  const r2 = await spawn({ ...RELAY_ENV, RELAY_PEERS: r1.addr })
  const r3 = await spawn({ ...RELAY_ENV, RELAY_PEERS: r2.addr })
  const relays = [r1, r2, r3]
  const nodes = []
  try {
    await waitForLinks(relays)
    const cpuAtStart = await Promise.all(relays.map(r => cpuSecondsOf(r.child.pid)))

    // first request between two peers that share no relay
    const reach = []
    for (let i = 0; i < (quick ? 5 : 20) && Date.now() < deadline - 60_000; i++) {
      const from = await peerOn(relays[i % 3])
      const to = await peerOn(relays[(i + 1) % 3])
      try {
        await Promise.all([from.start(), to.start()])
        await Promise.all([from, to].map(p => until(() => p.relays()[0].online, 10_000)))
        const began = performance.now()
        await from.roundTrip(to.peerId, { head: JSON.stringify({ method: 'GET', url: '/_matrix/federation/v1/version', headers: [] }), body: null })
        reach.push(performance.now() - began)
      } finally {
        await Promise.allSettled([from.stop(), to.stop()])
      }
    }
    emit(latencyRow(`${prefix}.reach-across.first-request`, reach, { note: 'peers on different relays (3 linked), no shared relay: lookup + relayed dial + one request' }))

    // n simulated peers
    const n = quick ? 100 : 500
    const reserve = []
    const byRelay = [[], [], []]
    let failed = 0
    for (let start = 0; start < n && Date.now() < deadline - 40_000; start += 20) {
      await Promise.all(Array.from({ length: Math.min(20, n - start) }, async (_, k) => {
        const i = (start + k) % 3
        const began = performance.now()
        try {
          const node = await bareReservingNode(relays[i].addr, nodes)
          byRelay[i].push(node)
          reserve.push(performance.now() - began)
        } catch {
          failed++
        }
      }))
    }
    const online = reserve.length
    log(`${online} simulated peers reserved, ${failed} failed`)
    emit(latencyRow(`${prefix}.${online}-peers.reservation`, reserve, { note: `bare libp2p node: start, connect, reserve (20 at a time, all in one process); ${failed} of ${online + failed} got no reservation within 15 s` }))

    const lookups = []
    let missed = 0
    for (let i = 0; i < (quick ? 200 : 1000) && Date.now() < deadline - 15_000; i++) {
      const from = Math.floor(Math.random() * 3)
      const to = (from + 1 + Math.floor(Math.random() * 2)) % 3
      const asker = byRelay[from][Math.floor(Math.random() * byRelay[from].length)]
      const target = byRelay[to][Math.floor(Math.random() * byRelay[to].length)]
      const began = performance.now()
      const answer = await askRouting(asker, peerIdFromString(relays[from].addr.split('/p2p/')[1]), { op: 'find', peer: target.peerId.toString() }, { signal: AbortSignal.timeout(5000) })
      lookups.push(performance.now() - began)
      if (!answer.reserved?.some(a => a.endsWith(relays[to].addr.split('/p2p/')[1]))) missed++
    }
    const sorted = [...lookups].sort((a, b) => a - b)
    emit({
      name: `${prefix}.${online}-peers.lookup`,
      unit: 'ms',
      p50: round(percentile(sorted, 0.5)),
      p99: round(percentile(sorted, 0.95)),
      samples: sorted.length,
      note: `p99 column is p95; "find" for a peer on another relay, asked of one's own; ${missed} answers missed the peer`
    })
    const cpu = await Promise.all(relays.map(async (r, i) => (await cpuSecondsOf(r.child.pid)) - cpuAtStart[i]))
    const rss = await Promise.all(relays.map(r => rssMib(r.child.pid)))
    emit(valueRow(`${prefix}.${online}-peers.relay-cpu-s`, 'cpu-s', Math.max(...cpu), { samples: 3, note: `max over the 3 relays for the run (each: ${cpu.map(c => round(c)).join(' / ')})` }))
    emit(valueRow(`${prefix}.${online}-peers.relay-rss-mib`, 'MiB', Math.max(...rss), { samples: 3, note: `max over the 3 relays, ~${Math.round(online / 3)} peers each (each: ${rss.join(' / ')})` }))
  } finally {
    await Promise.allSettled(nodes.map(node => node.stop()))
    for (const r of relays) r.child.kill('SIGTERM')
  }
  return []
}

async function peerOn (relay) {
  const key = (await generateKeyPair('Ed25519')).raw
  return createP2P({ privateKey: key, relayAddrs: [relay.addr], maxRelays: 1, serve: async () => ({ status: 200, headers: [], body: null }) })
}

/** A libp2p node that only holds a reservation on one relay: a peer as the relay sees it. */
async function bareReservingNode (relayAddr, nodes) {
  const node = await createLibp2p({
    addresses: { listen: [] },
    transportManager: { faultTolerance: 1 /* NO_FATAL: a failed reservation is counted, not thrown */ },
    transports: [webSockets(), circuitRelayTransport()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionGater: { denyDialMultiaddr: () => false },
    services: { identify: identify() }
  })
  nodes?.push(node)
  await node.start()
  await node.components.transportManager.listen([multiaddr(relayAddr).encapsulate('/p2p-circuit')])
  await until(() => node.getMultiaddrs().some(ma => ma.toString().includes('/p2p-circuit')), 15_000)
  return node
}

/** Waits until every relay is linked with the two others. */
async function waitForLinks (relays) {
  const probe = await bareReservingNode(relays[0].addr)
  try {
    await until(async () => {
      const answers = await Promise.all(relays.map(r => askRouting(probe, multiaddr(r.addr), { op: 'relays' }, { signal: AbortSignal.timeout(5000) }).catch(() => ({ relays: [] }))))
      return answers.every(a => a.relays.length >= 2)
    }, 20_000)
  } finally {
    await probe.stop()
  }
}

async function until (predicate, ms) {
  const deadline = Date.now() + ms
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms`)
    await new Promise(resolve => setTimeout(resolve, 50))
  }
}

async function rssMib (pid) {
  try {
    const kib = Number((await readFile(`/proc/${pid}/status`, 'utf8')).match(/VmRSS:\s+(\d+)/)[1])
    return Math.round(kib / 1024)
  } catch {
    return null
  }
}
