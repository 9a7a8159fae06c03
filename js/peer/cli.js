#!/usr/bin/env node
/**
 * `npm run peer -- --data DIR [--relay MULTIADDR]... [--http-port N] [--wasm FILE]
 *    [--registration-token TOKEN] [--cors-origin ORIGIN]...`
 *
 * Runs a headless Hearth peer until SIGINT/SIGTERM. RELAY_ADDR may name the
 * relay instead of --relay (npm start prints the relay's address), and
 * HEARTH_REGISTRATION_TOKEN the token instead of --registration-token.
 */
import '../p2p/node-env.js'
import { parseArgs } from 'node:util'
import { pathToFileURL } from 'node:url'
import { resolve } from 'node:path'
import { startPeer } from './index.js'

/** ms stop() may take after SIGINT/SIGTERM before the process exits regardless. */
const STOP_DEADLINE_MS = 4000

const usage = 'usage: npm run peer -- --data DIR [--relay MULTIADDR]... [--http-port N] [--wasm dist/hearth.wasm]' +
  ' [--registration-token TOKEN] [--cors-origin ORIGIN]...'

let options
try {
  ({ values: options } = parseArgs({
    options: {
      data: { type: 'string' },
      relay: { type: 'string', multiple: true, default: [] },
      'http-port': { type: 'string' },
      wasm: { type: 'string', default: 'dist/hearth.wasm' },
      'registration-token': { type: 'string', default: process.env.HEARTH_REGISTRATION_TOKEN },
      'cors-origin': { type: 'string', multiple: true, default: [] },
      help: { type: 'boolean', short: 'h' }
    }
  }))
} catch (err) {
  console.error(`peer: ${err.message}\n${usage}`)
  process.exit(2)
}
if (options.help) {
  console.log(usage)
  process.exit(0)
}
if (!options.data) {
  console.error(`peer: --data is required\n${usage}`)
  process.exit(2)
}
const relayAddrs = options.relay.length > 0 ? options.relay : (process.env.RELAY_ADDR ? [process.env.RELAY_ADDR] : [])
const httpPort = options['http-port'] === undefined ? undefined : Number(options['http-port'])
if (httpPort !== undefined && !(Number.isInteger(httpPort) && httpPort >= 0 && httpPort <= 65535)) {
  console.error(`peer: --http-port ${options['http-port']} is not a port`)
  process.exit(2)
}

try {
  const peer = await startPeer({
    dataDir: resolve(options.data),
    wasm: pathToFileURL(resolve(options.wasm)),
    relayAddrs,
    http: httpPort === undefined ? undefined : { port: httpPort },
    registrationToken: options['registration-token'],
    corsOrigins: options['cors-origin']
  })
  if (relayAddrs.length === 0) console.log('peer: no relay given: running without federation')
  const stop = async () => {
    // A service manager waits a few seconds and then kills: exit before it
    // does, saying so, even if something in stop() hangs (acknowledged writes
    // are already on disk, so exiting early loses nothing).
    setTimeout(() => {
      console.error(`peer: stopping took over ${STOP_DEADLINE_MS} ms, exiting anyway`)
      process.exit(1)
    }, STOP_DEADLINE_MS).unref()
    await peer.stop()
    process.exit(0)
  }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
} catch (err) {
  console.error(`peer: cannot start: ${err.message}`)
  process.exit(1)
}
