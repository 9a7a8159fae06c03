/**
 * clientapi.native: the client API of the native Go server, measured by
 * go/cmd/hearth-bench the same way bench/browser.js measures the wasm server
 * in a service worker (send → arrival in a waiting /sync long-poll). The
 * harness divides the two (clientapi.ratio.*).
 */
import { execFile } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)

export async function clientapiNative ({ root, quick, deadline }) {
  const dir = await mkdtemp(join(tmpdir(), 'hearth-bench-go-'))
  try {
    const bin = join(dir, 'hearth-bench')
    await run('go', ['build', '-o', bin, './go/cmd/hearth-bench'], { cwd: root, timeout: 120_000 })
    const seconds = Math.max(5, Math.floor((deadline - Date.now()) / 1000) - 5)
    const { stdout } = await run(bin, ['-messages', quick ? '100' : '500', '-timeout', `${seconds}s`], {
      timeout: (seconds + 10) * 1000, maxBuffer: 1 << 20
    })
    return stdout.trim().split('\n').filter(Boolean).map((line) => JSON.parse(line))
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

/**
 * sync.initial: issue 13's initial /sync of an account in 50 rooms holding
 * 10,000 events, natively (go/syncapi/bench_test.go BenchmarkInitialSync,
 * which fills a database and reports per-sync p50/p99 as metrics).
 */
export async function initialSync ({ root, quick, deadline }) {
  const seconds = Math.max(10, Math.floor((deadline - Date.now()) / 1000) - 5)
  const { stdout } = await run('go', ['test', '-run', '^$', '-bench', '^BenchmarkInitialSync$',
    '-benchtime', quick ? '10x' : '40x', '-timeout', `${seconds}s`, './go/syncapi/'], {
    cwd: root, timeout: (seconds + 10) * 1000, maxBuffer: 1 << 20
  })
  const line = stdout.split('\n').find((l) => l.startsWith('BenchmarkInitialSync'))
  if (line === undefined) throw new Error(`no benchmark line in: ${stdout.slice(0, 500)}`)
  const fields = line.trim().split(/\s+/)
  const metric = (unit) => Number(fields[fields.indexOf(unit) - 1])
  return [{
    name: 'sync.initial',
    unit: 'ms',
    p50: metric('p50-ms'),
    p99: metric('p99-ms'),
    samples: Number(fields[1]),
    note: `CPU ${metric('cpu-ms/op')} ms per sync; 50 rooms, 10,000 events (200 messages each), default filter, answer JSON-encoded; SQLite in /dev/shm`
  }]
}
