/**
 * startup.node: Go's start-up on a database that has been used, under Node
 * (bench/node-server.js, dist/hearth.wasm, the file journal), each boot in a
 * fresh process. V8 compiles Go's functions as they are first called, as in
 * a service worker that has no compiled code kept, and the machine is quieter
 * to measure on than a browser: start-up changes in Go show here first.
 *
 *   startup.node.warm.go-start   Go main → JS has Go's ready, a database of
 *                                400 messages (100 with --quick)
 */
import { execFile } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { SELF as NODE_SERVER } from './node-server.js'
import { latencyRow } from './rows.js'

const run = promisify(execFile)

export async function nodeStartup ({ root, dist, quick, deadline }) {
  const wasm = join(dist, 'hearth.wasm')
  const messages = quick ? 100 : 400
  const boots = quick ? 3 : 9
  const dir = await mkdtemp(join(tmpdir(), 'hearth-bench-node-startup-'))
  const node = (args) => run(process.execPath, ['--stack-size=8192', NODE_SERVER, ...args], {
    cwd: root, timeout: Math.max(10_000, deadline - Date.now())
  })
  try {
    await node(['--fill', wasm, dir, String(messages)])
    const goStart = []
    for (let i = 0; i < boots && Date.now() < deadline; i++) {
      const { stdout } = await node(['--startup', wasm, dir])
      goStart.push(JSON.parse(stdout.trim().split('\n').pop()).goStartMs)
    }
    return [latencyRow('startup.node.warm.go-start', goStart, {
      note: `Go main → ready seen by JS, under Node, a file database of ${messages} messages; a fresh process per boot`
    })]
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}
