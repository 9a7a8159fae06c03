/**
 * The service worker: runs the Go server and answers /_matrix/* and
 * /.well-known/matrix/* on its own origin with it. Everything else goes to the
 * network untouched: in Chromium without a fetch event (static-routes.js).
 *
 * Life cycle. The browser may stop an idle worker at any time (Firefox after
 * about 30 s without events) and start it again for the next fetch, so the
 * server is booted once per worker life, from what storage persisted: as soon
 * as an activated worker's script runs, or when a page first asks.
 * install skips waiting and activate claims open pages, so the first visit is
 * served without a reload.
 *
 * Start-up is visible: every phase change is broadcast (see sw/protocol.js) and
 * a failed start-up answers server requests with 503 M_UNKNOWN and the reason,
 * never with a hang.
 *
 * Once Go is ready, the worker joins the peer-to-peer network as the same
 * identity (sw/network.js says why libp2p lives here and not in the page).
 * A restarted worker boots Go and rejoins; the page's keep-alive (MSG.keepAlive)
 * restarts a worker the browser stopped while a tab is open.
 *
 * Updates. A new build changes this script (webpack stamps the wasm's hash
 * in it), so the browser installs the new worker on the next navigation; it
 * skips waiting, but Chromium activates it only once this one has no fetch
 * in flight, so this one answers long-polls at once from then on
 * (handover.js). The new worker opens storage only once this one is gone
 * (takeServerLock): never two servers on one database.
 */
import { startServer } from '../js/bridge/boot.js'
import { addServerTiming, serveFetch } from '../js/bridge/globals.js'
import { createStorage } from '../js/storage/index.js'
import { createBlobStore } from '../js/blobs/index.js'
import { createNetwork, readNetworkConfig } from './network.js'
import { createHandover } from './handover.js'
import { CHANNEL, MSG, SERVER_PATH_PREFIXES, isServerPath, lifeLockName } from './protocol.js'
import { BACKUP_PATH_PREFIX, createBackupRoutes, isBackupPath } from './backup.js'
import { addStaticRoutes, staticRoutes } from './static-routes.js'
import { createClientPorts } from './client-port.js'

/** Where the static files are, relative to this script (dist/ root). */
const assetURL = (name) => new URL(name, self.location.href).href

/**
 * This build's stamp: the hash of the hearth.wasm it was built with
 * (webpack.config.js). A rebuilt server changes this script, which is what
 * makes browsers install the new worker.
 */
const BUILD = typeof __HEARTH_BUILD__ === 'string' ? __HEARTH_BUILD__ : 'dev'

/** The hash of the sql-wasm.wasm this script's sql.js goes with (webpack.config.js). */
const SQL_WASM = typeof __HEARTH_SQL_WASM__ === 'string' ? __HEARTH_SQL_WASM__ : 'dev'

/**
 * The one server of this worker life. Fields:
 *   status   what pages are told (see sw/protocol.js)
 *   booting  the start-up promise, null until the first boot request; reset
 *            only after a failure that happened before Go ran
 *   goRan    true once Go was started: a second Go in this realm is not safe
 *   network  the libp2p node (sw/network.js), null until Go is ready
 *   debug    libp2p log namespaces a page asked for, applied to the network
 *   directHost  the port of the page hosting WebRTC links, until the network takes it
 *   marks    start-up timestamps of this worker life (sw/protocol.js), for status.marks
 *   stores   {opened, blobs}: createStorage()'s result and the blob store, once open (backups read them)
 *   releaseLock  gives up the server lock (after an import: the next worker life takes it)
 */
const startedAt = now()
const server = {
  status: { phase: 'idle', life: startedAt, seq: 0, since: Date.now(), build: BUILD },
  booting: null,
  goRan: false,
  network: null,
  debug: null,
  directHost: null,
  marks: { workerStarted: startedAt },
  stores: null,
  releaseLock: () => {}
}

/** Epoch ms with sub-ms precision, comparable with a page's timeOrigin + performance.now(). */
function now () {
  return performance.timeOrigin + performance.now()
}

/** js/storage's open steps, as marks (sw/protocol.js). */
const OPEN_STEP_MARKS = { sqlReady: 'storageSqlReady', read: 'storageRead', imageOpened: 'storageImageOpened' }

/** Notes when a start-up step happened (first time only); broadcast with every status as marks. */
function mark (name, at = now()) {
  server.marks[name] ??= at
}

const channel = new BroadcastChannel(CHANNEL)

/** Steps aside (answers long-polls at once) when a newer build is installed: handover.js says why. */
const handover = createHandover(self.registration, { onStepAside: () => setStatus(server.status) })

/** Web Lock name: one Hearth server per origin at a time. */
const SERVER_LOCK = 'hearth-server'

function setStatus (status) {
  const waitingForPrevious = status.waitingForPrevious ?? server.status.waitingForPrevious ?? false
  const p2p = status.p2p ?? server.status.p2p
  server.status = {
    ...status,
    life: server.status.life,
    seq: server.status.seq + 1,
    build: BUILD,
    waitingForPrevious,
    ...(p2p !== undefined && { p2p }),
    ...(handover.steppedAside() && { handingOver: true }),
    since: status.phase === server.status.phase ? server.status.since : Date.now(),
    marks: { ...server.marks }
  }
  channel.postMessage({ type: MSG.status, status: server.status })
}

/**
 * Holds the origin-wide server lock for the rest of this worker's life and
 * resolves once it is ours. An updated worker activates while the old one may
 * still be finishing requests (a sync long-poll); two Go servers on one
 * IndexedDB database would overwrite each other's writes, so the new one opens
 * storage only after the old one is gone. Browsers without Web Locks skip this.
 */
function takeServerLock () {
  if (!self.navigator?.locks) return Promise.resolve()
  return new Promise((resolve, reject) => {
    const waiting = setTimeout(() => setStatus({ ...server.status, waitingForPrevious: true }), 1000)
    self.navigator.locks.request(SERVER_LOCK, { mode: 'exclusive' }, () => {
      clearTimeout(waiting)
      if (server.status.waitingForPrevious) setStatus({ ...server.status, waitingForPrevious: false })
      resolve()
      // Held until this worker ends, or an import hands the data to the next life.
      return new Promise(release => { server.releaseLock = release })
    }).catch((err) => {
      clearTimeout(waiting)
      reject(err)
    })
  })
}

/** Starts the server once; resolves when it can answer, rejects with the reason. */
function boot () {
  if (server.booting !== null) return server.booting
  server.booting = (async () => {
    // sql.js asks for its own file name (sql-wasm-browser.wasm); dist/ has one
    // copy, named by its hash (js/assets/fetch.js).
    mark('bootRequested')
    const sqlJs = { locateFile: () => assetURL(`sql-wasm.wasm?v=${SQL_WASM}`), immutable: SQL_WASM !== 'dev' }
    const locked = takeServerLock()
    locked.then(() => mark('serverLocked'), () => {})
    // The network joins once Go is ready; its config.json (never from the
    // HTTP cache) is read meanwhile, not after. A failure is the network's
    // to report when it starts.
    const configURL = assetURL('config.json')
    const networkConfig = readNetworkConfig(configURL)
    networkConfig.catch(() => {})
    mark('storageOpenStarted')
    const storage = createStorage({
      ...sqlJs, // the brief's shape: sql.js options at the top level
      initSqlJs: sqlJs, // js/storage's shape: sql.js options under initSqlJs
      persistence: 'indexeddb',
      name: 'hearth',
      // sql.js compiles and IndexedDB opens while the lock is awaited; the
      // data is read once the previous server is gone.
      readAfter: locked,
      onOpenStep: (step) => mark(OPEN_STEP_MARKS[step])
    })
    // Media bytes: an IndexedDB database of their own, never in sql.js's memory.
    const blobs = locked.then(() => createBlobStore({ persistence: 'indexeddb', name: 'hearth' }))
      .then(opened => opened.blobs)
    Promise.all([storage, blobs]).then(([opened, blobStore]) => { server.stores = { opened, blobs: blobStore } }, () => {})
    const info = await startServer({
      wasm: assetURL(`hearth.wasm?v=${BUILD}`),
      immutable: BUILD !== 'dev', // ?v= is the hash of its bytes
      storage: storage.then((opened) => {
        mark('storageOpened')
        return opened.storage
      }),
      blobs,
      onPhase: (event) => {
        markPhase(event)
        if (event.phase === 'starting') server.goRan = true
        // Only what pages need: never the signing key.
        setStatus(event.phase === 'ready'
          ? { phase: 'ready', serverName: event.serverName, version: event.version }
          : event)
      }
    })
    info.exited.then(
      (code) => fail(new Error(`the server stopped (exit code ${code})`), 'ready'),
      (err) => fail(err, 'ready'))
    // The key stays in this worker: it becomes the libp2p identity right here.
    server.network = createNetwork({
      configURL,
      config: networkConfig,
      signingKey: info.signingKey,
      serverName: info.serverName,
      debug: server.debug,
      onStatus: (p2p) => setStatus({ ...server.status, p2p })
    })
    if (server.directHost !== null) server.network.setDirectHost(server.directHost)
    server.directHost = null
    server.network.start() // never rejects; the client API does not wait for the network
    return { serverName: info.serverName }
  })()
  server.booting.catch((err) => fail(err, err.phase ?? server.status.phase))
  return server.booting
}

/** Start-up marks from boot.js's phases; see sw/protocol.js for what each means. */
function markPhase (event) {
  const at = now()
  if (event.phase === 'downloading') mark('downloadStarted', at)
  if (event.phase === 'compiling') mark('downloadDone', at)
  if (event.phase === 'starting') {
    mark('compiled', at)
    mark('goStarted', at)
  }
  if (event.phase === 'ready') mark('ready', at)
}

function fail (err, failedPhase) {
  console.error('hearth: the server failed:', err)
  server.network?.stop().catch(() => {})
  // Two Gos cannot run in one worker: a failure can be retried here before Go
  // ran, or once it has ended (storage failed to open while Go waited for it).
  if (err?.goEnded === true) server.goRan = false
  setStatus({ phase: 'failed', failedPhase, error: err.message || String(err), retryable: !server.goRan })
}

function matrixError (status, message) {
  return new Response(JSON.stringify({ errcode: 'M_UNKNOWN', error: message }), {
    status,
    headers: { 'Content-Type': 'application/json' }
  })
}

/**
 * Answers one server request. The answer's Server-Timing header gets
 * worker;dur=ms, from the fetch event to the answer (serveFetch adds Go's
 * part): what is left of a page's fetch time is the browser's; and
 * commit;dur=ms when commits waited for IndexedDB meanwhile.
 */
async function answer (request) {
  const received = performance.now()
  const waitedBefore = server.stores?.opened.commitWaitMs()
  const response = await answerUntimed(request)
  if (server.marks.firstAnswer === undefined) {
    mark('firstAnswer')
    setStatus(server.status) // the marks are said with the status
  }
  addServerTiming(response.headers, 'worker', performance.now() - received)
  // The IndexedDB commits' wait while this request was served (Go's share
  // includes it): exactly the request's own when nothing else commits.
  const waited = waitedBefore === undefined ? 0 : server.stores.opened.commitWaitMs() - waitedBefore
  if (waited > 0) addServerTiming(response.headers, 'commit', waited)
  return response
}

async function answerUntimed (request) {
  try {
    await boot()
  } catch (err) {
    return matrixError(503, `the Hearth server failed to start: ${err.message}`)
  }
  if (server.status.phase === 'failed') {
    return matrixError(503, `the Hearth server is not running: ${server.status.error}`)
  }
  try {
    return await handover.serve(request, serveFetch)
  } catch (err) {
    console.error('hearth: request failed:', request.method, request.url, err)
    return matrixError(500, `the Hearth server could not answer: ${err.message}`)
  }
}

// Held until this life ends: pages waiting for it learn of the end at once
// (lifeLockName). A page asks for it once a hello or an accepted request
// names this life, so neither is said before the lock is held: a page's
// request granted first would take this life for ended, and fail everything
// it accepted.
const lifeLockHeld = new Promise((resolve) => {
  const locks = self.navigator?.locks
  if (!locks) return resolve()
  locks.request(lifeLockName(startedAt), () => {
    resolve()
    return new Promise(() => {})
  }).catch(() => resolve())
})

/** The built-in client's requests as message events (client-port.js), answered like fetch events. */
const clientPorts = createClientPorts({ answer, origin: self.location.origin, hello: { life: startedAt, build: BUILD }, lifeLockHeld })

const backupRoutes = createBackupRoutes({
  storage: async () => {
    await boot()
    return server.stores
  },
  serve: serveFetch,
  onProgress: (progress) => channel.postMessage({ type: MSG.backupProgress, progress }),
  storageName: 'hearth',
  retire: async () => {
    // This worker's Go server keeps running but loses its storage: say so, and
    // leave the network and the data to the next worker life.
    setStatus({ phase: 'failed', failedPhase: 'ready', error: 'a backup was imported: restart to run it', retryable: false, imported: true })
    await server.network?.stop().catch(() => {})
    await server.stores.opened.close()
    server.releaseLock()
  }
})

self.addEventListener('install', (event) => {
  // Requests for anything but these paths go straight to the network (static-routes.js).
  const routed = addStaticRoutes(event, staticRoutes([...SERVER_PATH_PREFIXES, BACKUP_PATH_PREFIX]))
  event.waitUntil(Promise.all([self.skipWaiting(), routed]))
})

self.addEventListener('activate', (event) => {
  event.waitUntil(self.clients.claim())
})

self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url)
  if (url.origin !== self.location.origin) return
  if (isBackupPath(url.pathname)) {
    event.respondWith(backupRoutes(event.request))
    return
  }
  if (!isServerPath(url.pathname)) return
  event.respondWith(answer(event.request))
})

// A message notification (shown by the page, js/page/notifier.js) was
// clicked: the open Hearth windows of its user show that room (the worker
// does not know which window is whose), else a new window opens on it.
self.addEventListener('notificationclick', (event) => {
  event.notification.close()
  event.waitUntil(openRoom(event.notification.data ?? {}))
})

async function openRoom ({ roomId, userId }) {
  if (typeof roomId !== 'string') return
  const windows = await self.clients.matchAll({ type: 'window' })
  if (windows.length === 0) {
    await self.clients.openWindow(`/#room=${encodeURIComponent(roomId)}`)
    return
  }
  for (const client of windows) client.postMessage({ type: MSG.openRoom, roomId, userId })
  // Allowed only while handling a click the browser delivered.
  await (windows.find((c) => c.visibilityState === 'hidden') ?? windows[0]).focus().catch(() => {})
}

self.addEventListener('message', (event) => {
  const type = event.data?.type
  const reply = () => event.source?.postMessage({ type: MSG.status, status: server.status })
  if (typeof event.data?.debug === 'string' && event.data.debug !== server.debug) {
    server.debug = event.data.debug
    server.network?.setDebug(server.debug)
  }
  if (type === MSG.status) {
    reply()
  } else if (type === MSG.boot || type === MSG.keepAlive) {
    // boot retries a failed start-up that can be retried; keepAlive only starts
    // the server in a worker life that has not (the browser restarted us).
    if (type === MSG.boot && server.status.phase === 'failed' && !server.goRan) server.booting = null
    const booting = boot()
    reply()
    // Keep the worker alive until start-up settles.
    event.waitUntil(booting.catch(() => {}))
  } else if (type === MSG.directHost && event.ports[0]) {
    if (server.network !== null) server.network.setDirectHost(event.ports[0])
    else {
      server.directHost?.close()
      server.directHost = event.ports[0]
    }
  } else if (type === MSG.clientHello && event.ports[0]) {
    event.waitUntil(clientPorts.hello(event.ports[0]))
  } else if (type === MSG.clientRequest && event.ports[0]) {
    // Held open until answered, as a fetch event is: the worker stays alive
    // for it, and an update waits for it (handover.js cuts long-polls short).
    event.waitUntil(clientPorts.serve(event.data.request, event.ports[0]))
  } else if (type === MSG.skipWaiting) {
    event.waitUntil(self.skipWaiting())
  } else if (type === MSG.claim) {
    event.waitUntil(self.clients.claim())
  }
})

// The browser starts an activated worker for an event of a page that wants
// the server: its navigation, a request, a keep-alive. Boot at once instead of
// waiting for that page to load and ask, so Go's start overlaps the page's
// (a worker still installing boots only once a page asks, after activation).
if (self.serviceWorker?.state === 'activated') boot()
