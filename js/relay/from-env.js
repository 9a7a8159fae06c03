/**
 * Starts a relay configured from environment variables and prints where it is.
 * Used by `npm run relay` (cli.js) and by `npm start` (js/start.js), so
 * both read the same variables:
 *   RELAY_PORT      port (default 8081)
 *   RELAY_HOST      interface (default 127.0.0.1)
 *   RELAY_KEY_FILE  optional file holding the relay's raw ed25519 key; created
 *                   if missing, so the relay's address survives restarts
 * Node only: callers import '../p2p/node-env.js' first.
 */
import { readFile, writeFile } from 'node:fs/promises'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { createRelay } from './index.js'

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
  const relay = createRelay({ port, host, privateKey, logger })
  await relay.start()
  logger.log(`relay: listening on port ${relay.port}`)
  for (const addr of relay.multiaddrs()) logger.log(`relay: address ${addr}`)
  return relay
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
