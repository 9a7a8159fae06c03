/**
 * Starts a relay configured from environment variables and prints where it is.
 * Used by `npm run relay` (cli.js) and by `npm start` (js/start.js), so
 * both read the same variables:
 *   RELAY_PORT      port (default 8081)
 *   RELAY_HOST      interface (default 127.0.0.1)
 *   RELAY_KEY_FILE  optional file holding the relay's raw ed25519 key; created
 *                   if missing, so the relay's address survives restarts
 *   RELAY_MAILBOX_DIR       where mail for absent peers is kept (default
 *                           .hearth/mailbox, relative to the working directory);
 *                           `off`: no mailbox
 *   RELAY_MAILBOX_TTL_DAYS  days mail waits unread before it is dropped (default 14)
 *   RELAY_PEERS     comma-separated multiaddrs (each ending /p2p/<peer ID>) of other
 *                   relays to link with (links.js): peers then find each other across
 *                   relays, and learn those relays; one is enough, links spread
 * and one variable per limit in DEFAULT_RELAY_LIMITS (index.js has what each
 * bounds and its default), named RELAY_ + the limit in upper snake case, each a
 * positive whole number; unset keeps the default:
 *   RELAY_MAX_RESERVATIONS, RELAY_MAX_RESERVATIONS_PER_IP,
 *   RELAY_MAX_CONNECTIONS, RELAY_MAX_CONNECTIONS_PER_IP,
 *   RELAY_MAX_CONNECTIONS_PER_PEER,
 *   RELAY_MAX_CONNECTIONS_PER_SECOND_PER_HOST (new connections/s from one IP),
 *   RELAY_MAX_PENDING_CONNECTIONS, RELAY_MAX_HOP_STREAMS,
 *   RELAY_RESERVATION_TTL (ms), RELAY_DATA_LIMIT (bytes per relayed connection),
 *   RELAY_DURATION_LIMIT (ms per relayed connection),
 *   RELAY_MAX_RELAYED_BYTES_PER_SECOND_PER_PEER, RELAY_MAX_RELAYED_BURST_BYTES_PER_PEER
 *   (the per-peer byte rate on relayed connections, throttle.js)
 * Node only: callers import '../p2p/node-env.js' first.
 */
import { readFile, writeFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { createRelay, DEFAULT_RELAY_LIMITS } from './index.js'
import { relayAddrsFrom } from '../p2p/routing.js'

/**
 * @param {Record<string, string|undefined>} env usually process.env
 * @param {{log: Function, info?: Function, warn?: Function}} [logger] usually console
 * @returns {Promise<ReturnType<typeof createRelay>>} the started relay
 */
export async function startRelayFromEnv (env, logger = console) {
  const port = Number(env.RELAY_PORT ?? 8081)
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`RELAY_PORT ${env.RELAY_PORT} is not a port`)
  const host = env.RELAY_HOST ?? '127.0.0.1'
  const privateKey = env.RELAY_KEY_FILE ? await loadOrCreateKey(env.RELAY_KEY_FILE) : undefined
  const mailbox = mailboxFromEnv(env)
  const peers = peersFromEnv(env)
  const relay = createRelay({ port, host, privateKey, logger, limits: limitsFromEnv(env), mailbox, peers })
  await relay.start()
  logger.log(`relay: listening on port ${relay.port}`)
  logger.log(mailbox == null ? 'relay: no mailbox (RELAY_MAILBOX_DIR=off)' : `relay: mailbox in ${resolve(mailbox.dir)}`)
  for (const addr of relay.multiaddrs()) logger.log(`relay: address ${addr}`)
  if (peers.length > 0) logger.log(`relay: linking with ${peers.length} relay${peers.length === 1 ? '' : 's'} (RELAY_PEERS)`)
  return relay
}

/**
 * @param {Record<string, string|undefined>} env
 * @returns {Partial<typeof DEFAULT_RELAY_LIMITS>} the limits env sets (see the file comment)
 */
export function limitsFromEnv (env) {
  const limits = {}
  for (const key of Object.keys(DEFAULT_RELAY_LIMITS)) {
    const name = 'RELAY_' + key.replace(/[A-Z]/g, c => '_' + c).toUpperCase()
    const value = env[name]
    if (value == null || value === '') continue
    const n = Number(value)
    if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`${name} ${value} is not a positive whole number`)
    limits[key] = n
  }
  return limits
}

/**
 * @param {Record<string, string|undefined>} env
 * @returns {string[]} RELAY_PEERS: other relays' multiaddrs, each ending in /p2p/<peer ID>
 * @throws {Error} an entry is not such a multiaddr
 */
export function peersFromEnv (env) {
  const peers = (env.RELAY_PEERS ?? '').split(',').map(s => s.trim()).filter(s => s !== '')
  for (const addr of peers) {
    if (relayAddrsFrom([addr]).length === 0) throw new Error(`RELAY_PEERS: ${addr} is not a relay multiaddr ending in /p2p/<peer ID>`)
  }
  return peers
}

function mailboxFromEnv (env) {
  const dir = env.RELAY_MAILBOX_DIR ?? '.hearth/mailbox'
  if (dir === 'off') return null
  if (env.RELAY_MAILBOX_TTL_DAYS === undefined) return { dir }
  const days = Number(env.RELAY_MAILBOX_TTL_DAYS)
  if (!(days > 0)) throw new Error(`RELAY_MAILBOX_TTL_DAYS ${env.RELAY_MAILBOX_TTL_DAYS} is not a positive number of days`)
  return { dir, ttl: days * 24 * 60 * 60 * 1000 }
}

async function loadOrCreateKey (file) {
  try {
    const bytes = new Uint8Array(await readFile(file))
    if (bytes.byteLength !== 64) throw new Error(`${file} is not a 64-byte ed25519 key`)
    return bytes
  } catch (err) {
    if (err.code !== 'ENOENT') throw err
    const key = await generateKeyPair('Ed25519')
    await writeFile(file, key.raw, { mode: 0o600 })
    return key.raw
  }
}
