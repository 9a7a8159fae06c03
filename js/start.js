/**
 * `npm start`: everything a deployment of Hearth needs beside a CDN, on one
 * machine: the static site (dist/) and the libp2p relay the browsers meet on.
 *
 * Environment:
 *   PORT, HOST              the site (default 8080, 127.0.0.1)
 *   RELAY_PORT, RELAY_HOST  the relay (default 8081, 127.0.0.1)
 *   RELAY_KEY_FILE          the relay's key (default <state dir>/relay.key, created
 *                           on first start): the relay's address survives restarts
 *   RELAY_MAILBOX_DIR       the relay's mail for absent peers (default <state dir>/mailbox;
 *                           `off`: none), RELAY_MAILBOX_TTL_DAYS (default 14)
 *   HEARTH_STATE_DIR        where npm start keeps its state (default .hearth/ in the
 *                           repository, gitignored)
 *   HEARTH_SITE_DIR         the folder served (default dist/)
 *
 * The relay's address goes into <site>/config.json for the page to find,
 * unless a deployer set another relay there (js/site/config.js).
 */
import './p2p/node-env.js'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { mkdir } from 'node:fs/promises'
import { startSite } from './site/serve.js'
import { publishRelay } from './site/config.js'
import { startRelayFromEnv } from './relay/from-env.js'

const repo = fileURLToPath(new URL('../', import.meta.url))
const env = process.env
const port = env.PORT === undefined ? 8080 : Number(env.PORT)
const host = env.HOST ?? '127.0.0.1'
const siteDir = resolve(env.HEARTH_SITE_DIR ?? join(repo, 'dist'))
const stateDir = resolve(env.HEARTH_STATE_DIR ?? join(repo, '.hearth'))

const stoppers = []
const stop = async (code) => {
  for (const fn of stoppers.reverse()) await fn().catch(() => {})
  process.exit(code)
}

try {
  await mkdir(stateDir, { recursive: true })
  let relay
  try {
    relay = await startRelayFromEnv({
      ...env,
      RELAY_KEY_FILE: env.RELAY_KEY_FILE ?? join(stateDir, 'relay.key'),
      RELAY_MAILBOX_DIR: env.RELAY_MAILBOX_DIR ?? join(stateDir, 'mailbox')
    }, console)
  } catch (err) {
    throw new Error(`cannot start the relay on port ${env.RELAY_PORT ?? 8081}: ${err.message} (RELAY_PORT picks another port)`)
  }
  stoppers.push(() => relay.stop())
  const address = pickAddress(relay.multiaddrs())
  const published = await publishRelay({ siteDir, stateDir, relay: address })
  if (published.written) {
    console.log(`Pages use the relay ${address} (written to ${join(siteDir, 'config.json')})`)
  } else {
    console.log(`Pages use the relay ${JSON.stringify(published.relay)} set in ${join(siteDir, 'config.json')}, not this one`)
  }
  const site = await startSite({ dir: siteDir, port, host })
  stoppers.push(() => site.close())
  console.log(`Hearth is served at ${site.url}`)
  process.once('SIGINT', () => stop(0))
  process.once('SIGTERM', () => stop(0))
} catch (err) {
  console.error(`hearth: cannot start: ${err.message}`)
  await stop(1)
}

/** The address browsers dial: a listen address on 0.0.0.0 lists every interface; loopback last. */
function pickAddress (addrs) {
  const usable = addrs.filter(a => !a.startsWith('/ip4/0.0.0.0/') && !a.startsWith('/ip6/::/'))
  return usable.find(a => !a.startsWith('/ip4/127.') && !a.startsWith('/ip6/::1/')) ?? usable[0] ?? addrs[0]
}
