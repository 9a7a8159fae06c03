/**
 * Test kit: relays in their own processes (the relay CLI, as `npm run relay`
 * runs it, or the Go relay, as `npm run relay:go` runs it), so a test can
 * SIGKILL one. Node only.
 */
import { spawn } from 'node:child_process'
import { rmSync } from 'node:fs'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { goBuild } from '../../test/go-relay/relay.js'

/** @type {Promise<string> | null} the Go relay built for this process */
let goRelay = null

/**
 * Builds the Go relay (go/relay/cmd/hearth-relay) once per process, into a
 * temporary directory removed when the process exits; later calls get the
 * same binary.
 * @returns {Promise<string>} the binary's path
 */
export function buildGoHearthRelay () {
  goRelay ??= (async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hearth-relay-bin-'))
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }))
    const binary = join(dir, 'hearth-relay')
    await goBuild(fileURLToPath(new URL('../../go/relay', import.meta.url)), './cmd/hearth-relay', binary)
    return binary
  })()
  return goRelay
}

/**
 * Starts a relay process; resolves once it prints its address.
 * @param {Record<string, string>} env RELAY_* settings (RELAY_PORT defaults to 0)
 * @param {{implementation?: 'js' | 'go', nodeArgs?: string[]}} [options] which relay:
 *   js/relay (default) or go/relay; nodeArgs: for the JS relay's node (e.g. --cpu-prof)
 * @returns {Promise<{child: import('node:child_process').ChildProcess, addr: string, id: string,
 *   port: number, output: () => string}>} output: what it printed so far, both streams
 */
export async function spawnRelayProcess (env = {}, { implementation = 'js', nodeArgs = [] } = {}) {
  const command = implementation === 'go'
    ? [await buildGoHearthRelay(), []]
    : [process.execPath, [...nodeArgs, fileURLToPath(new URL('./cli.js', import.meta.url))]]
  const child = spawn(...command, { env: { ...process.env, RELAY_PORT: '0', ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`the relay did not start: ${out}`)) }, 15_000)
    child.once('exit', code => reject(new Error(`the relay exited (${code}): ${out}`)))
    child.stderr.on('data', chunk => { out += chunk })
    child.stdout.on('data', chunk => {
      out += chunk
      const addr = out.match(/relay: address (\S+)/)?.[1]
      if (addr != null) {
        clearTimeout(timer)
        // both relays print their port before their addresses
        const port = Number(out.match(/relay: listening on port (\d+)/)?.[1])
        resolve({ child, addr, id: addr.split('/p2p/')[1], port, output: () => out })
      }
    })
  })
}

/**
 * Three relays linked in a chain (the second given the first in RELAY_PEERS,
 * the third the second), each with a mailbox in its own directory under dir.
 * @param {string} dir
 * @param {Array<'js' | 'go'>} [implementations] each relay's, in order (default: all js)
 */
export async function spawnLinkedRelays (dir, implementations = ['js', 'js', 'js']) {
  const r1 = await spawnRelayProcess({ RELAY_MAILBOX_DIR: join(dir, 'mailbox1') }, { implementation: implementations[0] })
  const r2 = await spawnRelayProcess({ RELAY_MAILBOX_DIR: join(dir, 'mailbox2'), RELAY_PEERS: r1.addr }, { implementation: implementations[1] })
  const r3 = await spawnRelayProcess({ RELAY_MAILBOX_DIR: join(dir, 'mailbox3'), RELAY_PEERS: r2.addr }, { implementation: implementations[2] })
  return [r1, r2, r3]
}

/** SIGKILLs a relay process; resolves once it is gone. */
export function killRelay (relay) {
  if (relay.child.exitCode !== null || relay.child.signalCode !== null) return Promise.resolve()
  const exited = new Promise(resolve => relay.child.once('exit', resolve))
  relay.child.kill('SIGKILL')
  return exited
}
