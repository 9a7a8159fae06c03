/**
 * p2p.browsers: federation request/response between two real browsers (two
 * headless Chromium profiles, so two homeservers, on one origin) on one relay
 * in this process, timed in browser A's service worker:
 * globalThis.hearthP2P.roundTrip(B, GET /_matrix/key/v2/server), answered by
 * B's Go (its signed key document), one request at a time.
 *
 *   p2p.browsers.roundtrip.relay   through the relay, no direct link possible: two
 *                                  runs, before the link and after it, pooled
 *   p2p.browsers.link-open         first request once A's page hosts links →
 *                                  B listed in A's status.p2p.direct
 *   p2p.browsers.roundtrip.direct  the same requests over the WebRTC link
 *
 * A link is tried on the first request to a peer, if a page hosts links. To
 * time the relayed path alone, A's first tab runs without RTCPeerConnection
 * (removed before its scripts run): it cannot host, so A's worker never tries
 * a link (js/p2p/direct/links.js returns at once without a host) and B's
 * offers, if any, are declined. Then a second tab, a normal one, takes the
 * host lock (js/page/direct.js); the next request starts the link. After the
 * direct run that tab closes, its links with it, and the relayed run is
 * repeated, so the relayed runs bracket the direct one in time.
 *
 * Rows are emitted as they are measured, so a run cut short keeps what it had.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startSite } from '../js/site/serve.js'
import { CHANNEL } from '../sw/protocol.js'
import { siteWithConfig } from '../e2e/browser.js'
import { close, launch, measureLoad } from './browser.js'
import { errorRow, latencyRow, valueRow } from './rows.js'

const PATH = '/_matrix/key/v2/server'
const WARMUP = 20
/** ms for both servers to be online on the relay and list each other. */
const DISCOVERY_TIMEOUT_MS = 30_000
/** ms for a link to open: links.js gives signalling 15 s, host.js connecting 10 s. */
const LINK_TIMEOUT_MS = 30_000
/** ms after the second tab holds the host lock, if the worker's log line never comes. */
const HOST_FALLBACK_MS = 3_000
const quiet = { log () {}, info () {}, warn () {} }

export async function p2pBrowsers ({ dist, quick, deadline, log, emit }) {
  await import('../js/p2p/node-env.js') // Node polyfills for the relay: import only here
  const { createRelay } = await import('../js/relay/index.js')
  const count = quick ? 50 : 200
  const relay = createRelay({ port: 0, logger: quiet })
  await relay.start()
  const cleanup = [() => within(relay.stop(), 10_000)]
  try {
    const siteDir = await siteWithConfig({ relay: relay.multiaddrs()[0], debug: null }, dist)
    cleanup.push(() => rm(siteDir, { recursive: true, force: true }))
    const site = await startSite({ dir: siteDir, port: 0, host: '127.0.0.1' })
    cleanup.push(() => site.close())

    const open = async (name) => {
      const profile = await mkdtemp(join(tmpdir(), `hearth-bench-${name}-`))
      cleanup.push(() => rm(profile, { recursive: true, force: true }))
      const { browser, page } = await launch(profile, { network: false })
      cleanup.push(() => close(browser))
      return { browser, page }
    }
    const [a, b] = await Promise.all([open('a'), open('b')])
    // A's first tab cannot host direct links: the relayed path alone (see the top).
    await a.page.evaluateOnNewDocument(() => { delete window.RTCPeerConnection })

    await Promise.all([a, b].map(async ({ page }) => {
      await page.goto(site.url, { waitUntil: 'domcontentloaded' })
      await measureLoad(page)
    }))
    const [nameA, nameB] = await Promise.all([a, b].map(({ page }) => page.waitForFunction(
      () => window.__hearthBench.status?.p2p?.peerId, { timeout: DISCOVERY_TIMEOUT_MS, polling: 50 }
    ).then((h) => h.jsonValue())))
    // Online on the relay is enough: they share no room, so presence does not list them to
    // each other, and a request dials the other's circuit address through the relay.
    await Promise.all([a, b].map(({ page }) => page.waitForFunction(
      () => window.__hearthBench.status?.p2p?.state === 'online', { timeout: DISCOVERY_TIMEOUT_MS, polling: 50 }
    ).catch(() => { throw new Error(`the two browsers were not online within ${DISCOVERY_TIMEOUT_MS / 1000} s`) })))
    log(`A ${nameA}, B ${nameB}: online`)
    const worker = await serviceWorker(a.browser)
    // Failures inside the worker come back as {error}; so does a worker that is gone.
    const inWorker = (fn, ...args) => worker.evaluate(fn, ...args).catch((err) => ({ samples: [], error: err.message }))
    const budget = () => Math.max(2_000, (deadline - Date.now()) / 3)

    // 1. Through the relay, before any link; repeated in 4, after the direct
    // run, so the two relayed runs bracket it in time (start-up work still
    // running in the browsers would otherwise only slow the first path).
    const before = await inWorker(roundTrips, nameB, { warmup: WARMUP, count, budgetMs: budget(), channel: CHANNEL })

    // 2. A second tab hosts A's links; the next request starts one.
    let tab = null
    let linked = false
    try {
      const hosted = hostedSignal(worker)
      tab = await a.browser.newPage()
      await tab.goto(site.url, { waitUntil: 'domcontentloaded' })
      const how = await hosted.wait(tab, Math.min(LINK_TIMEOUT_MS, budget()))
      log(`A's second tab hosts direct links (${how})`)
      const link = await inWorker(linkOpen, nameB, { timeoutMs: Math.min(LINK_TIMEOUT_MS, budget()), channel: CHANNEL })
      if (link.error) throw new Error(link.error)
      linked = true
      emit(valueRow('p2p.browsers.link-open', 'ms', link.ms, {
        note: `first request to B once A's second tab hosts links (${how}) → B in A's status.p2p.direct: offer, signalling over the relay, ` +
          `ICE on loopback, control channel open; that request itself went through the relay (${Math.round(link.firstMs * 10) / 10} ms)`
      }))
    } catch (err) {
      emit(errorRow('p2p.browsers.link-open', err))
    }

    // 3. Over the direct link.
    const direct = linked
      ? await inWorker(roundTrips, nameB, { warmup: WARMUP, count, budgetMs: budget(), channel: CHANNEL, direct: true })
      : { samples: [], error: 'no direct link opened' }
    if (direct.error) emit(errorRow('p2p.browsers.roundtrip.direct', direct.samples.length ? `after ${direct.samples.length} requests: ${direct.error}` : direct.error))
    else if (direct.dropped) emit(errorRow('p2p.browsers.roundtrip.direct', 'the direct link closed during the run: some requests went through the relay'))
    else {
      emit(latencyRow('p2p.browsers.roundtrip.direct', direct.samples, {
        note: `the same over the WebRTC link (A's worker → A's page → data channel → B's page → B's worker → Go), ${direct.bytes} B answer, ` +
          `after ${WARMUP} warm-up; B was in A's status.p2p.direct before and throughout`
      }))
    }

    // 4. The hosting tab closes (its links with it): through the relay again.
    let after
    try {
      await tab?.close()
      await a.page.waitForFunction((other) => !window.__hearthBench.status?.p2p?.direct?.includes(other),
        { timeout: 10_000, polling: 50 }, nameB)
      after = await inWorker(roundTrips, nameB, { warmup: WARMUP, count, budgetMs: budget(), channel: CHANNEL })
    } catch (err) {
      after = { samples: [], error: `A's link to B did not close with its tab: ${err.message}` }
    }
    emit(relayRow(before, after))
    return []
  } finally {
    for (const step of cleanup.reverse()) await step().catch(() => {})
  }
}

/** The two relayed runs (before a tab hosted A's links, after it closed) as one row; a failed run is left out, saying why. */
function relayRow (before, after) {
  const runs = [['before a tab hosted A\'s links', before], ['after that tab closed', after]]
  const p50 = (xs) => Math.round([...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)] * 10) / 10
  const good = []
  const notes = []
  for (const [when, run] of runs) {
    const why = run.error ? `failed after ${run.samples.length} requests: ${run.error}`
      : run.linked ? 'left out: a direct link opened during it, though no page could host one'
        : null
    if (why === null) good.push(run)
    notes.push(`${when}: ${why ?? `${WARMUP} warm-up + ${run.samples.length}, p50 ${p50(run.samples)} ms`}`)
  }
  const name = 'p2p.browsers.roundtrip.relay'
  if (good.length === 0) return errorRow(name, notes.join('; '))
  return latencyRow(name, good.flatMap((run) => run.samples), {
    note: `A's worker → relay → B's Go: GET ${PATH} (${good[0].bytes} B answer) via hearthP2P.roundTrip, sequential, ` +
      `while no page of A could host a link (A's first tab has no RTCPeerConnection). ${notes.join('; ')}`
  })
}

/**
 * In A's service worker: count sequential round trips to peerId after warmup,
 * within budgetMs. Follows the worker's status broadcasts meanwhile: linked
 * (a status listed peerId as direct) and dropped (one did not, when direct).
 */
async function roundTrips (peerId, { warmup, count, budgetMs, channel, direct = false }) {
  const began = performance.now()
  const out = { samples: [], bytes: null, linked: false, dropped: false, error: null }
  const statuses = new BroadcastChannel(channel)
  statuses.onmessage = (e) => {
    const list = e.data?.status?.p2p?.direct
    if (!Array.isArray(list)) return
    if (list.includes(peerId)) out.linked = true
    else if (direct) out.dropped = true
  }
  const one = async () => {
    const res = await globalThis.hearthP2P.roundTrip(peerId, {
      head: JSON.stringify({ method: 'GET', url: '/_matrix/key/v2/server', headers: [['accept', 'application/json']] }),
      body: null
    })
    const status = JSON.parse(res.head).status
    if (status !== 200) throw new Error(`HTTP ${status}: ${new TextDecoder().decode(res.body).slice(0, 200)}`)
    out.bytes = res.body?.byteLength ?? 0
  }
  try {
    for (let i = 0; i < warmup; i++) await one()
    for (let i = 0; i < count && performance.now() - began < budgetMs; i++) {
      const t0 = performance.now()
      await one()
      out.samples.push(performance.now() - t0)
    }
  } catch (err) {
    out.error = `${err.name}: ${err.message}`
  } finally {
    statuses.close()
  }
  return out
}

/**
 * In A's service worker: one request to peerId, and ms from it until a status
 * broadcast lists peerId in p2p.direct (the link open).
 */
async function linkOpen (peerId, { timeoutMs, channel }) {
  const statuses = new BroadcastChannel(channel)
  let timer
  try {
    const opened = new Promise((resolve) => {
      statuses.onmessage = (e) => { if (e.data?.status?.p2p?.direct?.includes(peerId)) resolve(performance.now()) }
    })
    const t0 = performance.now()
    const first = globalThis.hearthP2P.roundTrip(peerId, {
      head: JSON.stringify({ method: 'GET', url: '/_matrix/key/v2/server', headers: [['accept', 'application/json']] }),
      body: null
    }).then(() => performance.now() - t0)
    const at = await Promise.race([opened, new Promise((resolve) => { timer = setTimeout(() => resolve(null), timeoutMs) })])
    if (at === null) return { error: `no direct link within ${timeoutMs / 1000} s of the first request` }
    return { ms: at - t0, firstMs: await first }
  } catch (err) {
    return { error: `${err.name}: ${err.message}` }
  } finally {
    clearTimeout(timer)
    statuses.close()
  }
}

/** The browser's (one) service worker, to evaluate code in. */
async function serviceWorker (browser) {
  const target = await browser.waitForTarget((t) => t.type() === 'service_worker', { timeout: 10_000 })
  const worker = await target.worker()
  if (!worker) throw new Error('cannot attach to the service worker')
  return worker
}

/**
 * When the worker has taken a page as the host of its links: its log line
 * (js/p2p/direct/links.js), or, failing that, HOST_FALLBACK_MS after the tab
 * holds the host lock (js/page/direct.js). Resolves with which one it was.
 */
function hostedSignal (worker) {
  let logged
  const line = new Promise((resolve) => { logged = resolve })
  const onConsole = (msg) => { if (msg.text().includes('hosts direct WebRTC links')) logged('the worker said so') }
  worker.on('console', onConsole)
  return {
    async wait (tab, timeoutMs) {
      const lock = tab.waitForFunction(async () => (await navigator.locks.query()).held.some((l) => l.name === 'hearth-direct-host'),
        { timeout: timeoutMs, polling: 50 })
        .then(() => new Promise((resolve) => setTimeout(resolve, HOST_FALLBACK_MS)))
        .then(() => `its tab held the host lock ${HOST_FALLBACK_MS / 1000} s ago`)
        .catch(() => { throw new Error(`A's second tab did not take the host lock within ${Math.round(timeoutMs / 1000)} s`) })
      lock.catch(() => {}) // once the log line won, a late failure here means nothing
      try {
        return await Promise.race([line, lock])
      } finally {
        worker.off('console', onConsole)
      }
    }
  }
}


function within (promise, ms) {
  let timer
  return Promise.race([promise, new Promise((resolve) => { timer = setTimeout(resolve, ms) })]).finally(() => clearTimeout(timer))
}
