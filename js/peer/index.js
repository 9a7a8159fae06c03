/**
 * The headless peer: the same hearth.wasm and the same JS layer as the
 * browser, under Node. Storage is sql.js with file persistence in a data
 * directory; federation goes over libp2p through a relay. Optionally it also
 * answers the client-server API over HTTP on 127.0.0.1, so bots, tests and any
 * Matrix client can use it.
 *
 * Node only: import '../p2p/node-env.js' before this module.
 */
import { createServer } from 'node:http'
import { mkdir, open, readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { startServer } from '../bridge/boot.js'
import { GLOBALS, callServe, provide } from '../bridge/globals.js'
import { createStorage } from '../storage/index.js'
import { createBlobStore } from '../blobs/index.js'

/** Largest client API request body the HTTP front accepts. */
const MAX_HTTP_BODY_BYTES = 16 << 20

/** The data directory is in use by another running peer. */
export class DataDirLockedError extends Error {
  constructor (dir, pid, command = '') {
    super(`data directory ${dir} is in use by process ${pid}${command ? ` (${command})` : ''}: stop it first`)
    this.name = 'DataDirLockedError'
  }
}

/**
 * @param {object} options
 * @param {string} options.dataDir where the database (and its journal) lives, and media
 *   files under media/; created if missing
 * @param {string|URL|Uint8Array} options.wasm hearth.wasm: a file: URL or the bytes
 * @param {string[]} [options.relayAddrs] relay multiaddrs (with /p2p/<id>); none: no federation
 * @param {{port: number, host?: string}} [options.http] serve the client API over HTTP
 * @param {string} [options.registrationToken] registering needs this token (UIA
 *   m.login.registration_token); none: registration is open
 * @param {string[]} [options.corsOrigins] web origins besides the front's own whose
 *   pages may use the client API ('*' for any); none: same origin only
 * @param {(err: Error) => void} [options.onDuplicate] a relay says another copy of this
 *   server is online (DuplicateServerError): this peer has left the network; the
 *   command line exits (default: log it and stay up without federation)
 * @param {Record<string, string>} [options.goEnv] more of Go's environment (tuning
 *   read by go/cmd/hearth-wasm, such as HEARTH_COLD_EVENTS_KEEP)
 * @param {Console} [options.logger]
 * @returns {Promise<{serverName: string, url: string|null, p2p: object|null, stop: () => Promise<void>}>}
 */
export async function startPeer ({ dataDir, wasm, relayAddrs = [], http, registrationToken, corsOrigins = [], goEnv = {}, onDuplicate, logger = console }) {
  await mkdir(dataDir, { recursive: true })
  const unlock = await lockDataDir(dataDir)
  const cleanups = [unlock]
  const stop = async () => {
    for (const cleanup of cleanups.reverse()) {
      try { await cleanup() } catch (err) { logger.warn?.(`peer: stopping: ${err.message}`) }
    }
  }
  // Storage and media open while the wasm compiles (startServer takes promises):
  // a long history makes the open as long as the compile. Each is closed on
  // stop once it has opened; a failed start waits for both to settle first.
  const opening = [
    createStorage({ persistence: 'file', dir: dataDir }),
    // Media bytes are files under media/, beside (not in) the database, and
    // so is old messages' JSON (media/event/).
    createBlobStore({ persistence: 'file', dir: join(dataDir, 'media') })
  ]
  for (const p of opening) p.then(opened => cleanups.push(() => opened.close()), () => {})
  // libp2p is hundreds of modules: loading them took ~0.5 s of a 1 s start
  // when imported up front. Loaded now, they load while storage opens and
  // Go starts, and a peer without relays never loads them.
  const p2pModules = relayAddrs.length > 0 ? loadP2P() : null
  p2pModules?.catch(() => {}) // awaited below; a failed start may never get there
  try {
    // Go reads the operator's client API policy from its environment (go/cmd/hearth-wasm).
    const env = { ...goEnv, HEARTH_CORS_ORIGINS: corsOrigins.join(',') }
    if (registrationToken) env.HEARTH_REGISTRATION_TOKEN = registrationToken
    const info = await startServer({ wasm, storage: opening[0].then(o => o.storage), blobs: opening[1].then(m => m.blobs), env })
    // Go stops before the storage closes, and after whatever sends it requests (added later, stopped first).
    cleanups.push(() => info.stop())
    logger.log(`peer: homeserver ${info.serverName} is running (data in ${dataDir})`)

    let p2p = null
    if (p2pModules !== null) {
      const { createP2P, hearthP2P, mailToGo, fileRelayBook } = await p2pModules
      p2p = createP2P({
        privateKey: info.signingKey,
        relayAddrs,
        relayBook: fileRelayBook(join(dataDir, 'relays.json')),
        serve: callServe,
        ...mailToGo,
        logger,
        onDuplicate: (err) => {
          logger.error?.(`peer: refusing to go online: ${err.message}`)
          p2p.stop().catch(() => {})
          onDuplicate?.(err)
        }
      })
      cleanups.push(p2p.onRelays(relayLog(logger)))
      await p2p.start()
      cleanups.push(() => p2p.stop())
      provide(GLOBALS.p2p, hearthP2P(p2p))
      logger.log(`peer: on the p2p network as ${p2p.peerId} through ${relayAddrs.join(', ')}`)
    }

    let url = null
    if (http !== undefined) {
      const server = await listen(http.port, http.host ?? '127.0.0.1')
      cleanups.push(() => new Promise(resolve => { server.closeAllConnections(); server.close(resolve) }))
      const { port, address } = server.address()
      url = `http://${address}:${port}`
      logger.log(`peer: client API at ${url}`)
    }
    return { serverName: info.serverName, url, p2p, stop }
  } catch (err) {
    await Promise.allSettled(opening)
    await stop()
    throw err
  }
}

async function loadP2P () {
  const [index, bridge, relayBook] = await Promise.all([
    import('../p2p/index.js'), import('../p2p/bridge.js'), import('../p2p/relay-book.js')
  ])
  return { createP2P: index.createP2P, hearthP2P: bridge.hearthP2P, mailToGo: bridge.mailToGo, fileRelayBook: relayBook.fileRelayBook }
}

/**
 * The headless peer's network status: one line each time a relay's state
 * changes, e.g. `peer: relay 12D3KooW… online (offers presence, mailbox; presence
 * on; mailbox open)` or `peer: relay 12D3KooW… online (relaying only)` for a
 * stock libp2p relay.
 * @returns {(relays: ReturnType<ReturnType<typeof createP2P>['relays']>) => void} an onRelays listener
 */
function relayLog (logger) {
  const said = new Map()
  return relays => {
    for (const relay of relays) {
      const line = `peer: relay ${relay.peerId} ${relay.online ? `online (${describeExtras(relay)})` : 'offline'}`
      if (said.get(relay.peerId) === line) continue
      said.set(relay.peerId, line)
      logger.log(line)
    }
  }
}

function describeExtras ({ offers, presence, mailbox }) {
  if (offers.length === 0) return 'relaying only'
  const held = [presence && 'presence on', mailbox && 'mailbox open'].filter(Boolean)
  return [`offers ${offers.join(', ')}`, ...held].join('; ')
}

/** The client API over HTTP: each request is handed whole to Go's serve global. */
function listen (port, host) {
  const server = createServer(async (req, res) => {
    // A client that hangs up (a closed tab, a cancelled long-poll) cancels Go's handler.
    const hungUp = new AbortController()
    res.once('close', () => { if (!res.writableFinished) hungUp.abort() })
    try {
      const body = await readBody(req)
      const headers = []
      for (let i = 0; i < req.rawHeaders.length; i += 2) headers.push([req.rawHeaders[i], req.rawHeaders[i + 1]])
      const url = `http://${req.headers.host ?? host}${req.url}`
      const answer = await callServe({ method: req.method, url, headers }, body, { signal: hungUp.signal })
      res.writeHead(answer.status, answer.headers.flat())
      res.end(req.method === 'HEAD' ? undefined : answer.body)
    } catch (err) {
      const status = err.name === 'PayloadTooLargeError' ? 413 : 500
      const errcode = status === 413 ? 'M_TOO_LARGE' : 'M_UNKNOWN'
      if (!res.headersSent) res.writeHead(status, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ errcode, error: err.message }))
    }
  })
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => resolve(server))
  })
}

async function readBody (req) {
  if (req.method === 'GET' || req.method === 'HEAD') return null
  const chunks = []
  let size = 0
  for await (const chunk of req) {
    size += chunk.length
    if (size > MAX_HTTP_BODY_BYTES) {
      const err = new Error(`request body over ${MAX_HTTP_BODY_BYTES} bytes`)
      err.name = 'PayloadTooLargeError'
      throw err
    }
    chunks.push(chunk)
  }
  return new Uint8Array(Buffer.concat(chunks))
}

/**
 * One peer per data directory: two Go servers on one database would each
 * believe they are its only writer. A LOCK file holds the owner's pid; a
 * stale one (its process is gone, e.g. after SIGKILL) is taken over.
 */
export async function lockDataDir (dir) {
  const file = join(dir, 'LOCK')
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(file, 'wx')
      await handle.writeFile(String(process.pid))
      await handle.close()
      return () => rm(file, { force: true })
    } catch (err) {
      if (err.code !== 'EEXIST') throw err
      const pid = Number(await readFile(file, 'utf8').catch(() => ''))
      if (pid > 0 && pid !== process.pid && isAlive(pid)) throw new DataDirLockedError(dir, pid, await commandOf(pid))
      await rm(file, { force: true })
    }
  }
  throw new DataDirLockedError(dir, 'unknown')
}

/** The command line of a process, where the system says (Linux /proc); '' elsewhere. */
async function commandOf (pid) {
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')
  return cmdline.split('\0').filter(Boolean).join(' ').slice(0, 200)
}

function isAlive (pid) {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return err.code === 'EPERM'
  }
}
