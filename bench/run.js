#!/usr/bin/env node
/**
 * `npm run bench`: runs the benchmarks (bench/benchmarks.js), each in its own
 * process and within its own time limit, and writes ONE JSON document to
 * stdout and to bench/results/latest.json:
 *
 *   {date, machine: {cores, loadavg, cpuModel, yardstickMs, memory, node, go, chromium, commit},
 *    loadavgAtEnd, durationMs, rows: [{name, unit, p50?, p99?, value?, samples, cores, note?, error?}]}
 *
 * and a short table on stderr. It measures; it never judges: a benchmark that
 * fails becomes a row with an `error`, and the exit code is 0 whatever the
 * numbers are.
 *
 *   npm run bench [-- --only NAME] [--quick] [--verbose]
 *     --only NAME  one benchmark, a group ("clientapi") or the benchmark owning a row
 *     --quick      fewer samples, for trying the harness (figures are noisier)
 *     --verbose    pass the benchmarks' own logs (and the Go server's) to stderr
 *
 * Needs `npm run build` first (dist/ and build/).
 */
import { fork, execFileSync } from 'node:child_process'
import { mkdir, writeFile } from 'node:fs/promises'
import os from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { BENCHMARKS, select } from './benchmarks.js'
import { errorRow, percentile, round } from './rows.js'

const root = fileURLToPath(new URL('..', import.meta.url))
/** The deadline a benchmark gets is this much before its hard limit. */
const GRACE_MS = 10_000

const { values: args } = parseArgs({
  options: {
    only: { type: 'string' },
    quick: { type: 'boolean', default: false },
    verbose: { type: 'boolean', default: false }
  }
})

const selected = select(args.only)
if (selected.length === 0) {
  console.error(`bench: nothing matches --only ${args.only}; benchmarks: ${BENCHMARKS.map((b) => b.name).join(', ')}`)
  process.exit(2)
}

const began = Date.now()
const machine = describeMachine()
const cores = machine.cores
const rows = []
for (const bench of selected) {
  const t0 = Date.now()
  console.error(`bench: ${bench.name} ...`)
  const result = await runInChild(bench)
  rows.push(...result.map((r) => ({ ...r, cores })))
  console.error(`bench: ${bench.name} done in ${((Date.now() - t0) / 1000).toFixed(1)} s`)
}
rows.push(...derivedRows(rows).map((r) => ({ ...r, cores })))

const doc = {
  date: new Date(began).toISOString(),
  machine,
  loadavgAtEnd: os.loadavg().map((x) => Math.round(x * 100) / 100),
  durationMs: Date.now() - began,
  rows
}
const json = JSON.stringify(doc, null, 2)
await mkdir(join(root, 'bench/results'), { recursive: true })
await writeFile(join(root, 'bench/results/latest.json'), json + '\n')
printTable(doc)
process.stdout.write(json + '\n')

/** Runs one benchmark in a child process; always resolves with rows. */
function runInChild (bench) {
  return new Promise((resolve) => {
    const child = fork(fileURLToPath(new URL('./child.js', import.meta.url)), [bench.name], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      // Go's own wasm runner raises V8's stack the same way; gc() lets memory figures settle.
      execArgv: ['--stack-size=8192', '--expose-gc'],
      detached: true // its own process group, so a timeout ends browsers and relays it started too
    })
    const tail = []
    const keep = (chunk) => {
      if (args.verbose) process.stderr.write(chunk)
      tail.push(...String(chunk).split('\n').filter(Boolean))
      tail.splice(0, Math.max(0, tail.length - 20))
    }
    child.stdout.on('data', keep)
    child.stderr.on('data', keep)
    let settled = false
    const emitted = []
    const finish = (rows) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      resolve([...emitted, ...rows])
    }
    const failed = (message) => finish([errorRow(bench.name, `${message}${tail.length ? `\nlast output:\n${tail.slice(-5).join('\n')}` : ''}`)])
    const timer = setTimeout(() => {
      failed(`did not finish within ${bench.timeoutMs / 1000} s`)
      killGroup(child)
    }, bench.timeoutMs)
    child.on('message', (msg) => {
      if (msg.row !== undefined) emitted.push(msg.row)
      else if (msg.error !== undefined) failed(msg.error)
      else finish(msg.rows)
    })
    child.on('exit', (code, signal) => {
      // Whatever the benchmark left running in its group goes too.
      killGroup(child)
      failed(`exited (${signal ?? `code ${code}`}) without reporting`)
    })
    child.on('error', (err) => failed(err.message))
    child.send({
      root,
      dist: join(root, 'dist'),
      deadline: Date.now() + bench.timeoutMs - GRACE_MS,
      quick: args.quick
    })
  })
}

function killGroup (child) {
  try {
    process.kill(-child.pid, 'SIGKILL')
  } catch { /* already gone */ }
}

/** Rows computed from other rows: the wasm overhead of the client API. */
function derivedRows (rows) {
  const out = []
  const byName = new Map(rows.map((r) => [r.name, r]))
  for (const what of ['send-sync', 'send', 'versions']) {
    const browser = byName.get(`clientapi.browser.${what}`)
    const native = byName.get(`clientapi.native.${what}`)
    if (!(browser?.p50 > 0) || !(native?.p50 > 0)) continue
    out.push({
      name: `clientapi.ratio.${what}`,
      unit: 'ratio',
      p50: round(browser.p50 / native.p50),
      p99: round(browser.p99 / native.p99),
      samples: Math.min(browser.samples, native.samples),
      note: `clientapi.browser.${what} / clientapi.native.${what}: the wasm-in-a-service-worker overhead`
    })
  }
  return out
}

function describeMachine () {
  const cpus = os.cpus()
  const tryRun = (cmd, argv) => {
    try {
      return execFileSync(cmd, argv, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10000 }).trim()
    } catch {
      return null
    }
  }
  return {
    cores: cpus.length,
    // Other work on the machine skews every figure: 1, 5 and 15 minute load averages when the run began.
    loadavg: os.loadavg().map((x) => Math.round(x * 100) / 100),
    cpuModel: cpus[0]?.model?.trim() ?? 'unknown',
    yardstickMs: yardstick(),
    memory: os.totalmem(),
    node: process.version,
    go: tryRun('go', ['env', 'GOVERSION']),
    chromium: tryRun(process.env.CHROMIUM_PATH || '/usr/bin/chromium', ['--version']),
    commit: tryRun('git', ['rev-parse', '--short', 'HEAD'])
  }
}

/**
 * The same CPU work on every run (encoding and parsing Matrix-event-sized
 * JSON in one thread, as much of a send is), timed: the median of 7 rounds,
 * in ms. The machines differ from day to day (one gave every figure twice
 * the evening before's), which the model name and the load do not show;
 * runs whose yardsticks differ are not comparable.
 */
function yardstick () {
  const event = {
    type: 'm.room.message',
    room_id: '!room:hearth.test',
    sender: '@someone:hearth.test',
    origin_server_ts: 1764806400000,
    content: { msgtype: 'm.text', body: 'x'.repeat(200), 'm.relates_to': { rel_type: 'm.thread', event_id: '$root' } },
    prev_events: ['$a', '$b'],
    auth_events: ['$c', '$d', '$e'],
    hashes: { sha256: 'y'.repeat(43) },
    signatures: { 'hearth.test': { 'ed25519:a': 'z'.repeat(86) } }
  }
  const rounds = []
  for (let round = 0; round < 7; round++) {
    const began = performance.now()
    for (let i = 0; i < 4000; i++) JSON.parse(JSON.stringify({ ...event, depth: i }))
    rounds.push(performance.now() - began)
  }
  return round(percentile(rounds.sort((a, b) => a - b), 0.5))
}

function printTable (doc) {
  const fmt = (x) => x === undefined ? '' : typeof x === 'number' ? String(x) : String(x)
  const lines = [['name', 'p50 / value', 'p99', 'unit', 'n']]
  for (const r of doc.rows) {
    if (r.error !== undefined) {
      lines.push([r.name, 'ERROR', '', '', '0'])
      continue
    }
    lines.push([r.name, fmt(r.p50 ?? r.value), fmt(r.p99), r.unit, fmt(r.samples)])
  }
  const widths = lines[0].map((_, i) => Math.max(...lines.map((l) => l[i].length)))
  const out = lines.map((l) => l.map((c, i) => i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i])).join('  '))
  console.error(`\n${doc.machine.cpuModel}, ${doc.machine.cores} cores, ${doc.date}, ${(doc.durationMs / 1000).toFixed(0)} s, load average ${doc.machine.loadavg[0]} → ${doc.loadavgAtEnd[0]}, yardstick ${doc.machine.yardstickMs} ms`)
  console.error(out.join('\n'))
  for (const r of doc.rows.filter((r) => r.error !== undefined)) console.error(`\nERROR ${r.name}: ${r.error}`)
}
