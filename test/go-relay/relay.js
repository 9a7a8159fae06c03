/**
 * Builds and runs the stock go-libp2p relay (main.go here) for tests and
 * benchmarks, and builds other Go programs for them (goBuild: the Go relay
 * in js/relay/testing.js). Node only.
 */
import { execFile, spawn } from 'node:child_process'
import { once } from 'node:events'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const source = fileURLToPath(new URL('.', import.meta.url))

/** Go is not installed: the caller skips, saying so. */
export class GoMissingError extends Error {
  constructor (message, options) {
    super(message, options)
    this.name = 'GoMissingError'
  }
}

/**
 * `go build`s the relay into dir (modules come through the Go module proxy
 * on first use, then from the module cache).
 * @param {string} dir an empty temporary directory
 * @returns {Promise<string>} the binary's path
 * @throws {GoMissingError} no `go` on PATH
 */
export async function buildGoRelay (dir) {
  const binary = join(dir, 'go-relay')
  await goBuild(source, '.', binary)
  return binary
}

/**
 * `go build -o binary pkg` in the module at moduleDir, for tests and benchmarks.
 * @throws {GoMissingError} no `go` on PATH
 */
export async function goBuild (moduleDir, pkg, binary) {
  try {
    await promisify(execFile)('go', ['build', '-o', binary, pkg], { cwd: moduleDir, timeout: 600_000 })
  } catch (err) {
    if (err.code === 'ENOENT') throw new GoMissingError('the Go toolchain (go) is not installed', { cause: err })
    throw new Error(`building ${pkg} in ${moduleDir} failed: ${err.stderr || err.message}`, { cause: err })
  }
}

/**
 * Starts a built relay on 127.0.0.1 and resolves once it printed its address.
 * @param {string} binary from buildGoRelay
 * @param {{port?: number}} [options] 0 (default): any free port
 * @returns {Promise<{pid: number, multiaddrs: () => string[], stop: () => Promise<void>, kill: () => Promise<void>}>}
 */
export async function startGoRelay (binary, { port = 0 } = {}) {
  const child = spawn(binary, ['-port', String(port)], { stdio: ['ignore', 'pipe', 'pipe'] })
  const exited = once(child, 'exit')
  let output = ''
  const addrs = await new Promise((resolve, reject) => {
    const onData = chunk => {
      output += chunk
      const found = [...output.matchAll(/go-relay: address (\S+)\n/g)].map(m => m[1])
      if (found.length > 0) resolve(found)
    }
    child.stdout.on('data', onData)
    child.stderr.on('data', chunk => { output += chunk })
    child.once('error', reject)
    exited.then(() => reject(new Error(`go-relay exited before listening:\n${output}`)))
  })
  const end = signal => async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal)
    await exited
  }
  return { pid: child.pid, multiaddrs: () => addrs, stop: end('SIGTERM'), kill: end('SIGKILL') }
}
