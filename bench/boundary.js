/**
 * boundary: the cost of crossing between JS and Go. Boots the real server
 * under Node and calls the hearthServe global back to back (one call in
 * flight) for a few seconds per case:
 *
 *   small    GET /_matrix/client/versions: a tiny request and response
 *   1mib     POST of a 1 MiB body to an unknown path: the body is copied into
 *            Go once, the answer is a small 404 (M_UNRECOGNIZED), so the
 *            figure is dominated by moving the bytes
 *
 * Rows: calls/second and per-call latency for each case.
 */
import { join } from 'node:path'
import { callServe } from '../js/bridge/globals.js'
import { bootServer } from './node-server.js'
import { latencyRow, valueRow } from './rows.js'

const CASES = [
  { name: 'small', head: { method: 'GET', url: 'http://hearth.bench/_matrix/client/versions', headers: [] }, body: null, status: 200 },
  {
    name: '1mib',
    head: { method: 'POST', url: 'http://hearth.bench/_matrix/client/v3/bench-boundary', headers: [['content-type', 'application/octet-stream']] },
    body: new Uint8Array(1 << 20).fill(7),
    status: 404
  }
]

export async function boundary ({ dist, quick, deadline }) {
  await bootServer({ wasm: join(dist, 'hearth.wasm') })
  const seconds = quick ? 1 : 3
  const rows = []
  for (const c of CASES) {
    for (let i = 0; i < 50; i++) await call(c) // warm up the JIT and Go's allocator
    const times = []
    const began = performance.now()
    const stopAt = Math.min(began + seconds * 1000, performance.now() + Math.max(0, deadline - Date.now()))
    while (performance.now() < stopAt) {
      const t0 = performance.now()
      await call(c)
      times.push(performance.now() - t0)
    }
    const elapsed = (performance.now() - began) / 1000
    rows.push(valueRow(`boundary.${c.name}.calls-per-s`, 'calls/s', times.length / elapsed, {
      samples: times.length, note: 'hearthServe under Node, real wasm, one call in flight'
    }))
    rows.push(latencyRow(`boundary.${c.name}.latency`, times))
  }
  return rows
}

async function call (c) {
  const res = await callServe(c.head, c.body)
  if (res.status !== c.status) throw new Error(`${c.head.method} ${c.head.url}: HTTP ${res.status}, want ${c.status}`)
}
