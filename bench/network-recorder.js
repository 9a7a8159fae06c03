/**
 * Counts what a browser downloads, from Chromium's own network events, in
 * every target: the page and the service worker (which fetches hearth.wasm
 * and sql-wasm.wasm itself, so a page-only view would miss most bytes).
 *
 * It attaches to each new target through a browser-level CDP session with
 * waitForDebuggerOnStart, enables Network there and only then lets the target
 * run, so no request is missed — a service worker's first fetches included.
 *
 * Bytes per request are what came over the network: headers and body. Requests
 * answered by the service worker itself (the Matrix API) or from the memory or
 * disk cache are not downloads and are left out; revalidations (304) count
 * their headers.
 *
 * Call stop() before stopping service workers (ServiceWorker.stopAllWorkers):
 * while this recorder is attached to a worker, Chromium keeps its target and
 * a restarted worker waits for a debugger that never resumes it.
 */

/**
 * @param {import('puppeteer-core').Browser} browser
 * @returns {Promise<{requests: () => object[], total: () => {bytes: number, count: number}, stop: () => Promise<void>}>}
 */
export async function recordNetwork (browser) {
  const root = await browser.target().createCDPSession()
  /** requestId (per session) -> record */
  const byId = new Map()
  const sessions = new Set()

  root.on('Target.attachedToTarget', (event) => {
    const session = root.connection()?.session(event.sessionId)
    if (!session) return
    const targetType = event.targetInfo.type
    sessions.add(event.sessionId)
    const key = (id) => `${event.sessionId}:${id}`
    const get = (id) => byId.get(key(id))
    session.on('Network.requestWillBeSent', (e) => {
      byId.set(key(e.requestId), { url: e.request.url, target: targetType, status: null, bodyBytes: 0, finishedBytes: 0, fromServiceWorker: false, fromCache: false, done: false })
    })
    session.on('Network.requestServedFromCache', (e) => { const r = get(e.requestId); if (r) r.fromCache = true })
    session.on('Network.responseReceived', (e) => {
      const r = get(e.requestId)
      if (!r) return
      r.status = e.response.status
      r.fromServiceWorker = Boolean(e.response.fromServiceWorker)
      r.fromCache ||= Boolean(e.response.fromDiskCache || e.response.fromMemoryCache || e.response.fromPrefetchCache)
    })
    session.on('Network.dataReceived', (e) => { const r = get(e.requestId); if (r) r.bodyBytes += e.dataLength })
    session.on('Network.loadingFinished', (e) => {
      const r = get(e.requestId)
      if (!r) return
      r.finishedBytes = e.encodedDataLength
      r.done = true
    })
    const ready = session.send('Network.enable').catch(() => {})
    // A target that waits for us runs once Network is on.
    if (event.waitingForDebugger) ready.then(() => session.send('Runtime.runIfWaitingForDebugger').catch(() => {}))
  })
  await root.send('Target.setAutoAttach', { autoAttach: true, waitForDebuggerOnStart: true, flatten: true })

  const downloads = () => [...byId.values()].filter((r) => r.done && !r.fromServiceWorker && !r.fromCache && !r.url.startsWith('data:'))
  return {
    /** Finished downloads so far: {url, target, status, bytes}. */
    requests: () => downloads().map((r) => ({
      url: r.url,
      target: r.target,
      status: r.status,
      // loadingFinished counts what came over the network, headers and body
      // (a revalidated 304: its headers only, though dataReceived then
      // replays the cached body). The exception is a service worker's own
      // script, which gets no responseReceived and whose loadingFinished
      // counts the headers only: add the body seen in dataReceived.
      bytes: r.status === null && r.finishedBytes < r.bodyBytes ? r.finishedBytes + r.bodyBytes : r.finishedBytes
    })),
    /** Stops attaching and detaches from every target; what was recorded stays readable. */
    async stop () {
      await root.send('Target.setAutoAttach', { autoAttach: false, waitForDebuggerOnStart: false, flatten: true }).catch(() => {})
      await Promise.all([...sessions].map((sessionId) => root.send('Target.detachFromTarget', { sessionId }).catch(() => {})))
      sessions.clear()
    },
    total () {
      const all = this.requests()
      return { bytes: all.reduce((sum, r) => sum + r.bytes, 0), count: all.length }
    }
  }
}
