/**
 * Hearth's relays (js/relay, and go/relay: go-libp2p's relay with Hearth's
 * extras) and a stock go-libp2p circuit relay v2 (test/go-relay) side by
 * side, on issue 17's workload: pairs of peers built from js/p2p, 1.5 KB
 * federation requests and answers (X-Matrix origin set, so they are taken), as fast as they go, each relay in its own
 * process so its CPU time and memory are its own (Linux /proc). For each relay
 * and peer count it reports one object:
 *   {bench: 'relay-compare', relay: 'hearth'|'hearth-go'|'go', peers, requests, requests_per_s,
 *    relay_cpu_ms_per_request, relay_rss_mib (max while loaded),
 *    frames_per_request: {to_relay, from_relay} (WebSocket messages, counted at the peers)}
 * or {bench: 'relay-compare', relay, error} when a relay cannot run (no Go).
 * Node only; imports node-env.js.
 */
import '../js/p2p/node-env.js'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { WebSocket as WsWebSocket } from 'ws'
import { createP2P } from '../js/p2p/index.js'
import { cpuSecondsOf, spawnRelay } from './p2p.js'
import { buildGoRelay, startGoRelay } from '../test/go-relay/relay.js'

/** Issue 17's request and answer size. */
const BODY_BYTES = 1500

/**
 * WebSocket messages the peers of this process send and receive: every one
 * goes to or comes from the relay, so they are the relay's frames. Counted on
 * `ws` itself, below node-env.js's coalescing, so they are what the wire carries.
 */
const frames = { sent: 0, received: 0 }

/** Counts on ws's prototype while the benchmark runs; returns the undo. */
function countFrames () {
  const { send, emit } = WsWebSocket.prototype
  WsWebSocket.prototype.send = function (...args) {
    frames.sent++
    return send.apply(this, args)
  }
  WsWebSocket.prototype.emit = function (event, ...args) {
    if (event === 'message') frames.received++
    return emit.call(this, event, ...args)
  }
  return () => Object.assign(WsWebSocket.prototype, { send, emit })
}

/**
 * @param {{quick?: boolean, counts?: number[], withGo?: boolean, print: (row: object) => void}} options
 *   withGo false: Hearth's relay alone (trying a change to it)
 */
export async function runRelayCompare ({ quick = false, counts = quick ? [2, 10] : [2, 10, 50], withGo = true, print }) {
  const uncount = countFrames()
  const dir = await mkdtemp(join(tmpdir(), 'hearth-relay-compare-'))
  try {
    let goBinary = null
    try {
      if (withGo) goBinary = await buildGoRelay(dir)
    } catch (err) {
      print({ bench: 'relay-compare', relay: 'go', error: err.message })
    }
    for (const count of counts) {
      await measure('hearth', await spawnRelay(), count, { quick, print })
      if (goBinary != null) await measure('hearth-go', await spawnRelay({}, { implementation: 'go' }), count, { quick, print })
      if (goBinary != null) await measure('go', await startGoRelay(goBinary), count, { quick, print })
    }
  } finally {
    uncount()
    await rm(dir, { recursive: true, force: true })
  }
}

async function measure (kind, relay, count, { quick, print }) {
  const pid = relay.pid ?? relay.child.pid
  const serve = async (head, body) => ({ status: 200, headers: [], body })
  const peers = []
  try {
    for (let i = 0; i < count; i++) {
      peers.push(createP2P({ privateKey: (await generateKeyPair('Ed25519')).raw, relayAddrs: relay.multiaddrs(), serve }))
    }
    await Promise.all(peers.map(p => p.start()))
    // Ready when each can reach its target: a stock relay has no presence to wait on.
    await Promise.all(peers.map((p, i) => untilAnswered(p, target(peers, i))))
    const seconds = quick ? 2 : 5
    const rss = sampleRss(pid)
    const cpuBefore = await cpuSecondsOf(pid)
    const framesBefore = { ...frames }
    const began = performance.now()
    const deadline = began + seconds * 1000
    let done = 0
    await Promise.all(peers.map(async (p, i) => {
      while (performance.now() < deadline) {
        answered(await p.roundTrip(target(peers, i), request(p)))
        done++
      }
    }))
    const elapsed = (performance.now() - began) / 1000
    const cpu = (await cpuSecondsOf(pid)) - cpuBefore
    print({
      bench: 'relay-compare',
      relay: kind,
      peers: count,
      requests: done,
      requests_per_s: Math.round(done / elapsed),
      relay_cpu_ms_per_request: cpu == null ? null : round(cpu * 1000 / done),
      relay_rss_mib: round(await rss.stop() / 1024),
      frames_per_request: {
        to_relay: round((frames.sent - framesBefore.sent) / done),
        from_relay: round((frames.received - framesBefore.received) / done)
      }
    })
  } finally {
    await Promise.allSettled(peers.map(p => p.stop()))
    if (relay.stop) await relay.stop()
    else relay.child.kill('SIGTERM')
  }
}

/** Peers pair up in a ring: each sends to the next. */
function target (peers, i) {
  return peers[(i + 1) % peers.length].peerId
}

/**
 * A request the answering peer takes: one with a body must carry an X-Matrix
 * origin that is its sender (exchange.js; the signature is Go's to check, and
 * serve here is a stub). Unsigned, every request was refused with a 401 before
 * its body was read, and its stream reset.
 */
function request (from) {
  return {
    head: JSON.stringify({ method: 'PUT', url: '/_matrix/federation/v1/send/bench', headers: [['authorization', `X-Matrix origin="${from.peerId}",key="ed25519:a",sig="x"`]] }),
    body: new Uint8Array(BODY_BYTES).fill(1)
  }
}

/** The response, if it is the stub's 200 with the request's body: a refusal must not pass for a measured request. */
function answered (response) {
  const status = JSON.parse(response.head).status
  if (status !== 200 || response.body.byteLength !== BODY_BYTES) {
    throw new Error(`the answering peer said ${status} with ${response.body.byteLength} body bytes: not the workload's answer`)
  }
  return response
}

async function untilAnswered (peer, to, ms = 20_000) {
  const deadline = Date.now() + ms
  for (;;) {
    try {
      return answered(await peer.roundTrip(to, request(peer)))
    } catch (err) {
      if (Date.now() > deadline) throw err
      await new Promise(resolve => setTimeout(resolve, 100))
    }
  }
}

/** Samples a process's resident memory every 100 ms; stop() resolves to the largest, in KiB. */
function sampleRss (pid) {
  let max = 0
  const sample = async () => {
    const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '')
    max = Math.max(max, Number(status.match(/VmRSS:\s+(\d+)/)?.[1] ?? 0))
  }
  const timer = setInterval(sample, 100)
  return { stop: async () => { clearInterval(timer); await sample(); return max } }
}

function round (x) {
  return Math.round(x * 100) / 100
}
