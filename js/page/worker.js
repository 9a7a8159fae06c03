/**
 * The page's side of the service worker: register it, make sure it controls
 * this page (first visit included, no manual reload), start the server in it
 * and follow its start-up status.
 *
 * Browser differences handled here (see the 2020 write-up in the design notes):
 * - navigator.serviceWorker.ready resolves before activation in Firefox and
 *   after it in Chrome, so we wait for the worker's 'activated' state and for
 *   this page to be controlled, not for `ready`.
 * - after a hard reload (Shift+Reload) an active worker does not control the
 *   page and no controllerchange comes by itself: we ask the worker to claim.
 */
import { CHANNEL, KEEP_ALIVE_MS, MSG, isNewerStatus } from '../../sw/protocol.js'

/** ms between asking a waiting worker to take over (nudgeWaitingWorkers) */
const NUDGE_MS = 2000

/** the longest a page holds its requests while a newer worker waits (takeoverQuiet) */
const TAKEOVER_QUIET_MS = 15000

/** The page could not get a controlling service worker. */
export class WorkerError extends Error {
  constructor (message, options) {
    super(message, options)
    this.name = 'WorkerError'
  }
}

/**
 * @param {{onStatus: (status: object) => void, timeoutMs?: number, scriptURL?: string}} options
 * @returns {Promise<{boot: () => void, askStatus: () => void, hostDirect: (port: MessagePort) => void,
 *   untilTakeover: () => Promise<void>|null, close: () => void}>}
 *   untilTakeover: see takeoverQuiet
 */
export async function connectWorker ({ onStatus, timeoutMs = 30000, scriptURL = '/sw.js' }) {
  const container = navigator.serviceWorker
  if (container === undefined) {
    throw new WorkerError('This browser offers no service workers here, and Hearth runs its server in one. ' +
      'Private windows (Firefox) and non-HTTPS sites other than localhost disable them.')
  }
  let latest = null
  const onMessage = (event) => {
    if (event.data?.type !== MSG.status || !isNewerStatus(latest, event.data.status)) return
    latest = event.data.status
    onStatus(latest)
  }
  const channel = new BroadcastChannel(CHANNEL)
  channel.addEventListener('message', onMessage)
  container.addEventListener('message', onMessage)
  container.startMessages()

  let registration
  try {
    // updateViaCache 'none': a new sw.js is noticed on every navigation.
    registration = await container.register(scriptURL, { scope: '/', updateViaCache: 'none', type: 'classic' })
  } catch (err) {
    throw new WorkerError(`cannot register the service worker: ${err.message}`, { cause: err })
  }
  await takeControl(registration, timeoutMs)
  const stopNudging = nudgeWaitingWorkers(registration)

  // Every message carries localStorage.debug: libp2p runs in the worker, which has
  // no localStorage, so this is how `localStorage.debug = 'libp2p:*'` reaches it.
  const post = (type) => container.controller?.postMessage({ type, debug: debugNamespaces() })
  // While this page is open the worker must not be stopped as idle: its libp2p
  // node would leave the network. A logged-in page's /sync long-poll keeps it
  // busy too, but not before log-in, and not in a tab whose timers are throttled.
  // Not while a newer worker waits: the old one must be left idle (takeoverQuiet).
  const keepAlive = setInterval(() => { if (registration.waiting === null) post(MSG.keepAlive) }, KEEP_ALIVE_MS)
  return {
    boot: () => post(MSG.boot),
    askStatus: () => post(MSG.status),
    /** @param {MessagePort} port for js/page/direct.js */
    hostDirect: (port) => container.controller?.postMessage({ type: MSG.directHost }, [port]),
    untilTakeover: takeoverQuiet(registration),
    close: () => {
      clearInterval(keepAlive)
      stopNudging()
      channel.close()
      container.removeEventListener('message', onMessage)
    }
  }
}

async function takeControl (registration, timeoutMs) {
  const container = navigator.serviceWorker
  if (container.controller) return
  let timer
  const controlled = new Promise((resolve) => container.addEventListener('controllerchange', resolve, { once: true }))
  const timedOut = new Promise((resolve, reject) => {
    timer = setTimeout(() => reject(new WorkerError(
      `the service worker did not take control of this page within ${timeoutMs / 1000} s; reload the page`)), timeoutMs)
  })
  const claimWhenActive = (async () => {
    const worker = registration.active ?? registration.waiting ?? registration.installing
    if (worker === null) return
    await activated(worker)
    if (!container.controller) {
      console.info('hearth: the service worker is active but does not control this page; asking it to claim')
      worker.postMessage({ type: MSG.claim })
    }
  })()
  try {
    await Promise.race([controlled, timedOut, claimWhenActive.then(() => controlled)])
  } finally {
    clearTimeout(timer)
  }
}

/**
 * While a newer worker waits (a new build), asks it every NUDGE_MS to skip
 * waiting. It asked once at install, and the old worker steps aside for it
 * (sw/handover.js). In Chromium the first skipWaiting() after install (and
 * only that one, until activation) asks the old worker to stop as soon as it
 * is idle again: this nudge is a second chance when the first was lost to a
 * restart (see takeoverQuiet).
 * @returns {() => void} stops
 */
function nudgeWaitingWorkers (registration) {
  const timer = setInterval(() => registration.waiting?.postMessage({ type: MSG.skipWaiting }), NUDGE_MS)
  return () => clearInterval(timer)
}

/**
 * untilTakeover: while a newer worker waits to take over, a promise that
 * resolves once it has (the controller changed) or no longer waits, or after
 * TAKEOVER_QUIET_MS whatever happens (once per waiting worker: then null
 * again); null when none waits. The page holds its requests (and
 * keep-alives) meanwhile: Chromium activates the new worker once the old one
 * has stopped for lack of events, and an event arriving while it stops (a
 * /sync retry, a keep-alive) starts it again, after which Chromium no longer
 * hurries it (up to 5 minutes: e2e/update.test.js failed so about one run in
 * eight).
 * @returns {() => Promise<void>|null}
 */
function takeoverQuiet (registration) {
  /** the waiting worker the page holds its requests for, and until when */
  let quiet = null
  return () => {
    const waiting = registration.waiting
    if (waiting === null) return null
    if (quiet?.worker !== waiting) {
      const current = { worker: waiting, over: false, promise: null }
      current.promise = whileWaiting(waiting).then(() => { current.over = true })
      quiet = current
    }
    return quiet.over ? null : quiet.promise
  }
}

/** Resolves when the controller changes, waiting becomes redundant, or after TAKEOVER_QUIET_MS. */
function whileWaiting (waiting) {
  const container = navigator.serviceWorker
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer)
      container.removeEventListener('controllerchange', done)
      waiting.removeEventListener('statechange', gone)
      resolve()
    }
    const gone = () => { if (waiting.state === 'redundant') done() } // an even newer build replaced it
    const timer = setTimeout(done, TAKEOVER_QUIET_MS)
    container.addEventListener('controllerchange', done)
    waiting.addEventListener('statechange', gone)
  })
}

function activated (worker) {
  return new Promise((resolve, reject) => {
    const check = () => {
      if (worker.state === 'activated') {
        worker.removeEventListener('statechange', check)
        resolve()
      } else if (worker.state === 'redundant') {
        worker.removeEventListener('statechange', check)
        reject(new WorkerError('the service worker failed to install (see the browser console)'))
      }
    }
    worker.addEventListener('statechange', check)
    check()
  })
}

function debugNamespaces () {
  try {
    return localStorage.getItem('debug') ?? undefined
  } catch {
    return undefined // storage disabled
  }
}
