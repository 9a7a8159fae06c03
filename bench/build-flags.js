/**
 * build-flags: what Go build settings do to the wasm. Builds
 * ./go/cmd/hearth-wasm once per variant into a temporary directory and
 * reports its size (raw, gzip, brotli) and how long it takes to start under
 * Node (compile, and Go main → ready with in-memory storage; the median of
 * three boots, each in a fresh process):
 *
 *   default      go build
 *   trimpath     -trimpath
 *   strip        -ldflags='-s -w'
 *   production   -trimpath -ldflags='-s -w'  (the Makefile's `make wasm`)
 *
 * (GOWASM=satconv,signext was tried too: the same size within 0.01 %, and no
 * start-up difference above the noise, so it is not a variant.)
 *
 * Rows: build-flags.<variant>.{raw,gzip,brotli9,compile,go-start}; brotli9 is
 * brotli at quality 9, fast enough for four variants in the time limit (size.*
 * has the production wasm at quality 11). Each
 * variant's rows are emitted when it is done, so a run cut short by the time
 * limit keeps the variants it finished (a first run builds without the Go
 * cache and is the slow one).
 */
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { SELF as NODE_SERVER } from './node-server.js'
import { errorRow, latencyRow, valueRow } from './rows.js'
import { compressedSizes } from './size.js'

const run = promisify(execFile)

export const VARIANTS = Object.freeze([
  { name: 'default', flags: [] },
  { name: 'trimpath', flags: ['-trimpath'] },
  { name: 'strip', flags: ['-ldflags=-s -w'] },
  { name: 'production', flags: ['-trimpath', '-ldflags=-s -w'] }
])

export async function buildFlags ({ root, quick, deadline, emit }) {
  const dir = await mkdtemp(join(tmpdir(), 'hearth-bench-flags-'))
  const boots = quick ? 1 : 3
  try {
    // Build and boot one variant at a time, then compress them all at once
    // (in the thread pool), so compression never competes with a timed boot.
    const built = []
    for (const v of VARIANTS) {
      if (Date.now() > deadline) {
        emit(errorRow(`build-flags.${v.name}`, 'skipped: the time limit came first'))
        continue
      }
      try {
        const wasm = await buildWasm(v, { root, dir, deadline })
        for (const row of await startTimes(v, wasm, { root, boots, deadline })) emit(row)
        built.push([v, wasm])
      } catch (err) {
        emit(errorRow(`build-flags.${v.name}`, err))
      }
    }
    const sizes = await Promise.all(built.map(async ([, wasm]) => compressedSizes(await readFile(wasm), { brotliQuality: 9 })))
    built.forEach(([v], i) => {
      for (const [kind, name] of [['raw', 'raw'], ['gzip', 'gzip'], ['brotli', 'brotli9']]) {
        emit(valueRow(`build-flags.${v.name}.${name}`, 'bytes', sizes[i][kind], { note: describe(v) }))
      }
    })
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
  return []
}

function describe (v) {
  const env = v.env ? ` (${Object.entries(v.env).map(([k, x]) => `${k}=${x}`).join(' ')})` : ''
  return `go build ${v.flags.join(' ')}${env}`.replace(/\s+/g, ' ').trim()
}

/** Builds ./go/cmd/hearth-wasm with variant v's flags as dir/<v.name>.wasm; returns its path. */
export async function buildWasm (v, { root, dir, deadline }) {
  const out = join(dir, `${v.name}.wasm`)
  await run('go', ['build', ...v.flags, '-o', out, './go/cmd/hearth-wasm'], {
    cwd: root,
    env: { ...process.env, GOOS: 'js', GOARCH: 'wasm', ...v.env },
    timeout: Math.max(10_000, deadline - Date.now())
  })
  return out
}

/** Boots the wasm in fresh Node processes: compile time and Go main → ready. */
async function startTimes (v, wasm, { root, boots, deadline }) {
  const compile = []
  const goStart = []
  for (let i = 0; i < boots && Date.now() < deadline; i++) {
    const { stdout } = await run(process.execPath, ['--stack-size=8192', NODE_SERVER, '--startup', wasm], { cwd: root, timeout: 30_000 })
    const t = JSON.parse(stdout.trim().split('\n').pop())
    compile.push(t.compileMs)
    goStart.push(t.goStartMs)
  }
  if (compile.length === 0) return []
  return [
    latencyRow(`build-flags.${v.name}.compile`, compile, { note: 'WebAssembly.compile under Node' }),
    latencyRow(`build-flags.${v.name}.go-start`, goStart, { note: 'Go main → ready under Node, in-memory storage' })
  ]
}
