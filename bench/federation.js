/**
 * federation: message latency from a send on one server to its arrival in a
 * long-polling /sync on the others, and catch-up of a returning server.
 *
 *   federation.inprocess.*  Go servers in one process over the in-process
 *                           transport (go/federation/bench_test.go): 2 and 10
 *                           servers, and 1,000 missed events caught up
 *   federation.relay.*      two headless peers (the real wasm) through a real
 *                           libp2p relay on loopback (js/peer/bench.js)
 *
 * Both print one JSON object per line ({"bench": …}); this turns them into rows.
 */
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { errorRow, valueRow } from './rows.js'

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
    const { stdout } = await run(process.execPath, ['js/peer/bench.js', ...(quick ? ['--quick'] : ['--messages', '50'])], {
      cwd: root, timeout: Math.max(10_000, deadline - Date.now() - 2_000), maxBuffer: 8 << 20
    })
    for (const r of jsonLines(stdout)) rows.push(relayRow(r))
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

function relayRow (r) {
  const name = `federation.relay.${r.bench.replace(/^federation\./, '')}`
  if (r.error) return errorRow(name, r.error)
  if (r.bench === 'federation.join') return valueRow(name, 'ms', r.ms)
  return { name, unit: 'ms', p50: r.p50_ms, p99: r.p99_ms, samples: r.messages }
}
