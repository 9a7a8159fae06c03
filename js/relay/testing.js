/**
 * Test kit: relays in their own processes (the relay CLI, as `npm run relay`
 * runs it), so a test can SIGKILL one. Node only.
 */
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

/**
 * Starts a relay process; resolves once it prints its address.
 * @param {Record<string, string>} env RELAY_* settings (RELAY_PORT defaults to 0)
 * @returns {Promise<{child: import('node:child_process').ChildProcess, addr: string, id: string, output: () => string}>}
 */
export function spawnRelayProcess (env = {}) {
  const cli = fileURLToPath(new URL('./cli.js', import.meta.url))
  const child = spawn(process.execPath, [cli], { env: { ...process.env, RELAY_PORT: '0', ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
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
        resolve({ child, addr, id: addr.split('/p2p/')[1], output: () => out })
      }
    })
  })
}

/**
 * Three relays linked in a chain (the second given the first in RELAY_PEERS,
 * the third the second), each with a mailbox in its own directory under dir.
 */
export async function spawnLinkedRelays (dir) {
  const r1 = await spawnRelayProcess({ RELAY_MAILBOX_DIR: join(dir, 'mailbox1') })
  const r2 = await spawnRelayProcess({ RELAY_MAILBOX_DIR: join(dir, 'mailbox2'), RELAY_PEERS: r1.addr })
  const r3 = await spawnRelayProcess({ RELAY_MAILBOX_DIR: join(dir, 'mailbox3'), RELAY_PEERS: r2.addr })
  return [r1, r2, r3]
}

/** SIGKILLs a relay process; resolves once it is gone. */
export function killRelay (relay) {
  if (relay.child.exitCode !== null || relay.child.signalCode !== null) return Promise.resolve()
  const exited = new Promise(resolve => relay.child.once('exit', resolve))
  relay.child.kill('SIGKILL')
  return exited
}
