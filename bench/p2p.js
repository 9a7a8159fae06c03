/**
 * p2p: js/p2p/bench.js as benchmark rows (libp2p over WebSockets on loopback,
 * through a circuit relay; peers in this process, the relay-load relay in its own):
 *
 *   p2p.discovery                          two peers start → both know each other (p99 is the max)
 *   p2p.roundtrip.relay.<body>             federation request/response through the relay
 *   p2p.relay-load.<n>.requests-per-s      n peers all sending at once (bounded by the peers' process)
 *   p2p.relay-load.<n>.per-relay-cpu-s     requests per CPU-second of the relay: its per-core capacity
 *   p2p.relay-load.<n>.relay-cpu-share     relay CPU seconds per wall second during the run
 *
 * Rows are reported as they are measured, so a run cut short keeps what it had.
 */
import { valueRow } from './rows.js'

export async function p2p ({ quick, emit }) {
  const { runP2PBench } = await import('../js/p2p/bench.js') // installs Node polyfills: import only here
  await runP2PBench({ quick, onRow: (r) => { for (const row of toRows(r)) emit(row) } })
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
