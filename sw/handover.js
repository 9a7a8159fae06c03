/**
 * Stepping aside for a newer worker. Chromium and Firefox activate an
 * updated worker only once the old one has no event in flight, and a
 * signed-in page always has one: its /sync long-poll (up to 20 s), sent
 * again as soon as one ends. So a new build waited for ever
 * (e2e/update.test.js). Once a newer worker is installed, this one answers
 * /sync long-polls, those in flight included, at once with 503 M_UNKNOWN and
 * Retry-After: the page waits a moment before its next sync, no event is in
 * flight, and the new worker activates and claims the page. Other requests
 * are served as before (they are short). Answering with a timeout=0 sync
 * instead kept two tabs' sync loops so busy that the new worker still never
 * activated.
 *
 * Which worker is newer: only the active worker gets fetch events, so while
 * serving one, a waiting worker is a newer one. (Firefox ESR has no
 * self.serviceWorker to compare with, and during its own install a worker
 * sees itself installing.)
 */

/** Seconds a page is asked to wait before its next sync while the new worker takes over. */
const RETRY_AFTER_S = 1

/**
 * @param {ServiceWorkerRegistration} registration this worker's (self.registration)
 * @param {{onStepAside?: () => void}} [hooks] onStepAside: the first time a long-poll is refused
 * @returns {{serve: (request: Request, serve: (request: Request, options: {signal: AbortSignal}) => Promise<Response>) => Promise<Response>,
 *            steppedAside: () => boolean}}
 *   serve answers one request through serve(), or with 503 when it is a long-poll and a newer worker waits
 */
export function createHandover (registration, hooks = {}) {
  /** long-polls being served: cut when a worker finishes installing */
  const inFlight = new Set()
  let steppedAside = false
  const stepAside = () => {
    if (!steppedAside) {
      steppedAside = true
      console.info('hearth: a newer worker is installed; long-polls are answered at once so that it can take over')
      hooks.onStepAside?.()
    }
    return handingOver()
  }
  /** the workers installing since this one started (its own first install among them) */
  const installs = []
  // Chromium does not update registration.waiting in the old worker: follow the installs.
  const newerWaits = () => registration.waiting != null || installs.some(w => w.state === 'installed')
  registration.addEventListener('updatefound', () => {
    const worker = registration.installing
    if (worker == null) return
    installs.push(worker)
    worker.addEventListener('statechange', () => {
      // only an active worker serves long-polls: any in flight are ours
      if (worker.state === 'installed') for (const cut of inFlight) cut.abort()
      if (worker.state === 'redundant' || worker.state === 'activated') installs.splice(installs.indexOf(worker), 1)
    })
  })

  return {
    steppedAside: () => steppedAside,
    async serve (request, serve) {
      if (!isLongPoll(request)) return serve(request, { signal: request.signal })
      if (newerWaits()) return stepAside()
      const cut = new AbortController()
      inFlight.add(cut)
      try {
        const long = serve(request, { signal: AbortSignal.any([request.signal, cut.signal]) })
        const cutShort = new Promise(resolve => cut.signal.addEventListener('abort', resolve, { once: true }))
        const first = await Promise.race([long.then(response => ({ response })), cutShort.then(() => null)])
        if (first !== null) return first.response
        long.catch(() => {}) // its answer is no longer wanted
        return stepAside()
      } finally {
        inFlight.delete(cut)
      }
    }
  }
}

/** A client API /sync that may wait for news (timeout > 0). */
export function isLongPoll (request) {
  const url = new URL(request.url)
  return request.method === 'GET' && /\/_matrix\/client\/(?:v3|r0)\/sync$/.test(url.pathname) &&
    Number(url.searchParams.get('timeout') ?? 0) > 0
}

function handingOver () {
  return new Response(JSON.stringify({ errcode: 'M_UNKNOWN', error: 'the server is moving to a newer version; retry in a moment' }), {
    status: 503,
    headers: { 'Content-Type': 'application/json', 'Retry-After': String(RETRY_AFTER_S) }
  })
}
