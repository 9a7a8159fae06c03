/**
 * Runs a js/wasm Go binary under Node, like the toolchain's
 * lib/wasm/go_js_wasm_exec + wasm_exec_node.js, but with an in-memory
 * js/storage installed as hearthStorage (and in-memory js/blobs as
 * hearthBlobs) first, so Go tests run against real sql.js. Used by `make test-wasm`:
 *
 *   go test -exec="node <repo>/js/testing/go_wasm_exec.js" ./go/...
 *
 * wasm_exec.js is loaded from the Go toolchain in use ($GOROOT, else
 * `go env GOROOT`), so it always matches the compiler. The Go program's
 * argv and environment are passed through and its exit code is ours.
 */

import { spawnSync, execFileSync } from 'node:child_process'
import { createRequire } from 'node:module'
import { readFile } from 'node:fs/promises'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { tmpdir } from 'node:os'
import { webcrypto } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { createStorage } from '../storage/index.js'
import { createBlobStore } from '../blobs/index.js'
import { provide, GLOBALS } from '../bridge/globals.js'

// Go's wrapper raises V8's stack from 984K to 8M so deep Go stacks fit; a
// script cannot raise its own, so run again with the flag if it is missing.
const STACK_FLAG = '--stack-size=8192'

async function main () {
  if (!process.execArgv.includes(STACK_FLAG)) {
    const child = spawnSync(process.execPath, [STACK_FLAG, ...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' })
    if (child.error) throw child.error
    if (child.signal) process.kill(process.pid, child.signal)
    process.exit(child.status ?? 1)
  }
  if (process.argv.length < 3) {
    console.error('usage: go_wasm_exec.js [wasm binary] [arguments]')
    process.exit(1)
  }

  globalThis.require = createRequire(import.meta.url)
  globalThis.fs = fs
  globalThis.path = path
  globalThis.crypto ??= webcrypto
  createRequire(import.meta.url)(path.join(goroot(), 'lib', 'wasm', 'wasm_exec.js'))

  const { storage } = await createStorage({ persistence: 'memory' })
  provide(GLOBALS.storage, storage)
  provide(GLOBALS.blobs, (await createBlobStore({ persistence: 'memory' })).blobs)

  const go = new globalThis.Go()
  go.argv = process.argv.slice(2)
  go.env = Object.assign({ TMPDIR: tmpdir() }, process.env)
  go.exit = process.exit
  const { instance } = await WebAssembly.instantiate(await readFile(process.argv[2]), go.importObject)
  process.on('exit', code => { // Node exits when nothing is pending
    if (code === 0 && !go.exited) {
      // deadlock: make Go print its error and stack traces
      go._pendingEvent = { id: 0 }
      go._resume()
    }
  })
  await go.run(instance)
}

function goroot () {
  if (process.env.GOROOT) return process.env.GOROOT
  return execFileSync('go', ['env', 'GOROOT'], { encoding: 'utf8' }).trim()
}

main().catch(err => {
  console.error(err)
  process.exit(1)
})
