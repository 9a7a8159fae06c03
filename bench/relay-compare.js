/**
 * relay.compare: Hearth's relays (hearth: js/relay; hearth-go: go/relay)
 * against a stock go-libp2p circuit relay v2 (test/go-relay) in the same run,
 * on issue 17's workload (bench/relay-compare-workload.js):
 *
 *   relay.compare.<hearth|hearth-go|go>.<n>.cpu-ms-per-request   relay CPU (user + system) per relayed request
 *   relay.compare.<hearth|hearth-go|go>.<n>.rss-mib              relay resident memory, max under load
 *   relay.compare.<hearth|hearth-go|go>.<n>.requests-per-s       what the peers got (bounded by their one process)
 *   relay.compare.<hearth|hearth-go|go>.<n>.frames-per-request   WebSocket messages per request, into + out of the relay
 *
 * n = 2, 10, 50 peers (2, 10 with --quick). Without Go, the go rows are one error row.
 */
import { errorRow, valueRow } from './rows.js'

export async function relayCompare ({ quick, emit }) {
  const { runRelayCompare } = await import('./relay-compare-workload.js') // installs Node polyfills: import only here
  await runRelayCompare({ quick, print: r => { for (const row of toRows(r)) emit(row) } })
  return []
}

function toRows (r) {
  if (r.error != null) return [errorRow(`relay.compare.${r.relay}`, r.error)]
  const base = `relay.compare.${r.relay}.${r.peers}`
  const samples = r.requests
  const { to_relay: into, from_relay: out } = r.frames_per_request
  return [
    valueRow(`${base}.cpu-ms-per-request`, 'ms', r.relay_cpu_ms_per_request, { samples, note: '1.5 KB request and answer, signed, on long-lived federation streams' }),
    valueRow(`${base}.rss-mib`, 'MiB', r.relay_rss_mib, { samples, note: 'max resident memory of the relay process under load' }),
    valueRow(`${base}.requests-per-s`, 'requests/s', r.requests_per_s, { samples, note: 'all peers in one process: bounded by it' }),
    valueRow(`${base}.frames-per-request`, 'frames', into + out, { samples, note: `WebSocket messages per request: ${into} into the relay, ${out} out of it` })
  ]
}
