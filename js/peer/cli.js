#!/usr/bin/env node
/**
 * `npm run peer -- --data DIR [--relay MULTIADDR]... [--http-port N] [--wasm FILE]
 *    [--registration-token TOKEN] [--cors-origin ORIGIN]... [--import FILE]`
 * `npm run peer -- --data DIR --export FILE`
 *
 * Runs a headless Hearth peer until SIGINT/SIGTERM. RELAY_ADDR may name the
 * relay instead of --relay (npm start prints the relay's address), and
 * HEARTH_REGISTRATION_TOKEN the token instead of --registration-token.
 * HEARTH_COLD_EVENTS_KEEP, _BATCH and _EVERY_MS tune when old messages leave
 * the database for files under DIR/media/event/ (go/cmd/hearth-wasm; tests).
 *
 * --export writes DIR's server to a backup file and exits (the peer must not
 * be running); --import reads one into DIR, which must be empty, then runs as
 * usual. The passphrase is asked for, or HEARTH_BACKUP_PASSPHRASE.
 */
import '../p2p/node-env.js'
import { parseArgs } from 'node:util'
import { setFlagsFromString } from 'node:v8'
import { pathToFileURL } from 'node:url'
import { resolve } from 'node:path'
import { startPeer } from './index.js'
import { exportDataDir, importDataDir } from './backup.js'
import { readPassphrase } from './passphrase.js'

// V8 moves hot wasm functions to its optimizing compiler once they have run
// a budget of code. At the default budget Go's start-up code reaches it, and
// those compiles held the event loop ~100–150 ms of a ~0.8 s start (a
// setTimeout(0) during it fired that late). Ten times the budget leaves
// start-up alone and still optimizes what a running server repeats
// (ed25519 + JSON in wasm: the same speed after ~1,000 operations). Set
// before any wasm compiles; the flag is read when a module is instantiated.
setFlagsFromString('--wasm-tiering-budget=18000000')

/** ms stop() may take after SIGINT/SIGTERM before the process exits regardless. */
const STOP_DEADLINE_MS = 4000

const usage = 'usage: npm run peer -- --data DIR [--relay MULTIADDR]... [--http-port N] [--wasm dist/hearth.wasm]' +
  ' [--registration-token TOKEN] [--cors-origin ORIGIN]... [--import BACKUP]\n' +
  '       npm run peer -- --data DIR --export BACKUP'

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
      export: { type: 'string' },
      import: { type: 'string' },
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
if (options.export && options.import) {
  console.error(`peer: --export and --import do not go together\n${usage}`)
  process.exit(2)
}
const dataDir = resolve(options.data)

/** One progress line, rewritten in place on a terminal. */
const showProgress = (text) => process.stderr.write(process.stderr.isTTY ? `\r${text}   ` : `${text}\n`)
const mib = n => (n / 1048576).toFixed(1)
let lastShown = 0
const throttled = (text, force) => {
  if (!force && Date.now() - lastShown < 250) return
  lastShown = Date.now()
  showProgress(text)
}

/** An error as the person reads it: its name when it has one of its own (BackupPassphraseError, …). */
const named = (err) => `${err.name && err.name !== 'Error' ? `${err.name}: ` : ''}${err.message}`

if (options.export) {
  try {
    const passphrase = await readPassphrase({ confirm: true })
    const out = await exportDataDir({
      dataDir,
      file: resolve(options.export),
      passphrase,
      onProgress: p => throttled(p.phase === 'kdf'
        ? 'peer: export: deriving the key from the passphrase'
        : `peer: export: database ${mib(p.databaseDone)}/${mib(p.databaseBytes)} MiB, media ${p.blobsDone}/${p.blobs}`, p.phase === 'done')
    })
    if (process.stderr.isTTY) process.stderr.write('\n')
    console.log(`peer: exported ${out.serverName} to ${options.export} (${mib(out.bytes)} MiB, ${out.blobs} media files)`)
    console.log('peer: once this backup is imported elsewhere, stop this copy for good (or wipe it): two live copies of one server fork its rooms')
    process.exit(0)
  } catch (err) {
    console.error(`peer: export failed: ${named(err)}`)
    process.exit(1)
  }
}

if (options.import) {
  try {
    const passphrase = await readPassphrase()
    const out = await importDataDir({
      dataDir,
      file: resolve(options.import),
      passphrase,
      onProgress: p => throttled(`peer: import: ${mib(p.bytesRead)}/${mib(p.totalBytes)} MiB`, p.bytesRead === p.totalBytes)
    })
    if (process.stderr.isTTY) process.stderr.write('\n')
    console.log(`peer: imported ${out.serverName} from ${options.import} (${out.blobs} media files)`)
  } catch (err) {
    console.error(`peer: import failed: ${named(err)}`)
    process.exit(1)
  }
}

const relayAddrs = options.relay.length > 0 ? options.relay : (process.env.RELAY_ADDR ? [process.env.RELAY_ADDR] : [])
const httpPort = options['http-port'] === undefined ? undefined : Number(options['http-port'])
if (httpPort !== undefined && !(Number.isInteger(httpPort) && httpPort >= 0 && httpPort <= 65535)) {
  console.error(`peer: --http-port ${options['http-port']} is not a port`)
  process.exit(2)
}

/** Set once the peer runs; a refusal to go online (below) stops it then or at once. */
let running = null
let duplicate = false
const exitAsDuplicate = async () => {
  await running.stop()
  process.exit(3)
}
try {
  const peer = running = await startPeer({
    dataDir,
    wasm: pathToFileURL(resolve(options.wasm)),
    relayAddrs,
    http: httpPort === undefined ? undefined : { port: httpPort },
    registrationToken: options['registration-token'],
    corsOrigins: options['cors-origin'],
    goEnv: Object.fromEntries(Object.entries(process.env).filter(([name]) => name.startsWith('HEARTH_COLD_EVENTS_'))),
    // Another live copy of this server is on the relay: exit rather than fork its rooms.
    onDuplicate: () => {
      duplicate = true
      if (running !== null) exitAsDuplicate()
    }
  })
  if (duplicate) await exitAsDuplicate()
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
