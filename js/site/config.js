/**
 * dist/config.json, the deployer-editable settings the page and the service
 * worker read at run time (template: js/page/config.json; a rebuild keeps the
 * copy in dist/). Fields:
 *
 *   relay   null, a relay multiaddr or a list of them, each ending in
 *           /p2p/<relay peer ID>, e.g. "/ip4/127.0.0.1/tcp/8081/ws/p2p/12D3KooW…".
 *           null: no federation (the server still runs, alone).
 *   debug   null or libp2p log namespaces for the service worker, e.g. "libp2p:*"
 *           (a worker has no localStorage; see the README, "Debugging libp2p").
 *   iceServers  RTCIceServer objects (STUN/TURN) for direct WebRTC links between
 *           browsers; absent or [] = host addresses only (links within one network).
 *
 * `npm start` fills in `relay` with the relay it runs, but never overwrites an
 * address a deployer put there: it remembers (in its state directory) the last
 * address it wrote itself, and only replaces null, an empty value or that one.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const TEMPLATE = fileURLToPath(new URL('../page/config.json', import.meta.url))

/** Name of the file in the state directory that remembers what npm start wrote. */
const WRITTEN_FILE = 'config-relay-written'

/**
 * Points config.json at `relay` unless a deployer chose another relay.
 * @param {{siteDir: string, stateDir: string, relay: string}} options
 * @returns {Promise<{relay: string|string[], written: boolean}>} the relay the
 *   page will use, and whether we wrote it
 */
export async function publishRelay ({ siteDir, stateDir, relay }) {
  const file = join(siteDir, 'config.json')
  let config
  try {
    config = JSON.parse(await readFile(file, 'utf8'))
  } catch (err) {
    if (err.code !== 'ENOENT') throw new Error(`cannot read ${file}: ${err.message}`)
    config = JSON.parse(await readFile(TEMPLATE, 'utf8'))
  }
  if (config === null || typeof config !== 'object' || Array.isArray(config)) {
    throw new Error(`${file} is not a JSON object`)
  }
  const lastWritten = await readFile(join(stateDir, WRITTEN_FILE), 'utf8').then(s => s.trim(), () => null)
  const current = config.relay
  const ours = current == null || current === '' || (Array.isArray(current) && current.length === 0) ||
    (typeof current === 'string' && current === lastWritten)
  if (!ours) return { relay: current, written: false }

  await mkdir(stateDir, { recursive: true })
  await writeFile(join(stateDir, WRITTEN_FILE), relay + '\n')
  if (current !== relay) {
    config.relay = relay
    // Write-then-rename: a page fetching config.json meanwhile sees the old or the new file, never half.
    const temporary = `${file}.${process.pid}.tmp`
    await writeFile(temporary, JSON.stringify(config, null, 2) + '\n')
    await rename(temporary, file)
  }
  return { relay, written: true }
}
