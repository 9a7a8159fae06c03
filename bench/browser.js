/**
 * The server in its real home: headless Chromium, the site from dist/ on
 * 127.0.0.1, the Go server in the service worker.
 *
 * startup: time from navigation start to the first /_matrix/client/versions
 * answered by the service worker (a probe injected into the page asks as soon
 * as the page is controlled; the worker answers once Go is ready):
 *   startup.cold.*           fresh profile, nothing cached, split with the
 *                            worker's start-up marks (sw/protocol.js):
 *     .worker-install        navigation start → the worker asked to boot (page
 *                            load, register, install, activate, claim)
 *     .download              hearth.wasm fetch start → last byte (compiling streams alongside)
 *     .compile               last byte → compiled (what streaming compile had left)
 *     .storage-open          sql.js + IndexedDB open, the server lock's wait included (runs alongside the download)
 *     .go-start              Go main → ready (storage.Open, which waits for storage to open, migrations, identity)
 *     .first-answer          ready → the worker's first answer left it
 *     .page-delay            that answer → the page has /versions (its trip, the page's own start-up)
 *     .page-script           navigation start → the page has its page.js (in Chromium it does
 *                            not wait for the worker: sw/static-routes.js)
 *     .total
 *   startup.warm-reload.total      reload, worker still running
 *   startup.worker-restart.*       worker stopped (as browsers do to idle
 *                                  workers), reload: it boots again from IndexedDB
 *   startup.worker-restart-after-use.*  the same after 300 messages sent and
 *                                  synced: the browser may keep compiled code by then;
 *                                  stopped at once, so the start replays their journal
 *   startup.worker-restart-after-idle.*  after 50 more messages and 7 s without
 *                                  any, as browsers stop workers (after ~30 s):
 *                                  the storage's idle snapshot is in place
 *   startup.traced-restart.*       one more worker restart after use, traced,
 *                                  not timed: what V8 compiled meanwhile
 *                                  (bench/wasm-compile-trace.js)
 *   startup.browser-restart.*      browser closed and started again on the same profile
 *   size.first-visit               bytes downloaded by page and worker on the first
 *                                  visit (Chromium network events, bench/network-recorder.js)
 *   size.first-visit.brotli        the same files as a brotli-compressing host would send them
 *   size.browser-restart           bytes downloaded when the browser comes back
 *   size.browser-restart.worker-requests  of those, the worker's requests (round
 *                                  trips to the host a start may wait on)
 *
 * clientapi.browser: from the page, fetch against its own origin (so through
 * the worker): for each message start a /sync long-poll, wait 5 ms, send, and
 * time send → the poll answering with it; before that, GET /versions alone (the
 * cost of the hop). go/cmd/hearth-bench does the same natively. The .worker,
 * .go and .commit rows split versions and send by the answers' Server-Timing; then
 * the hop's floor on a site of its own (fetch-floor, port-floor: hopFloors),
 * and the IndexedDB floor again in the service worker, where the journal commits.
 * clientapi.browser.port.*: the same again, in the same browser, with the
 * requests on the worker's client port as the built-in client sends them.
 * Chromium's timer is coarsened to 0.1 ms in pages.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import puppeteer from 'puppeteer-core'
import { CHROMIUM_ARGS } from '../e2e/browser.js'
import { startSite } from '../js/site/serve.js'
import { DEFAULT_SNAPSHOT_POLICY } from '../js/storage/snapshot-policy.js'
import { CHANNEL, MSG } from '../sw/protocol.js'
import { recordNetwork } from './network-recorder.js'
import { latencyRow, valueRow } from './rows.js'
import { compressedSizes } from './size.js'
import { compileFigures, TRACE_CATEGORIES } from './wasm-compile-trace.js'

/** Matches go/cmd/hearth-bench's pollHeadStart. */
export const POLL_HEAD_START_MS = 5
const BOOT_TIMEOUT_MS = 60_000

/**
 * Runs in the page before its own scripts: follows the worker's status and
 * asks for /versions as soon as the page is controlled.
 */
function probe (channelName) {
  const b = (window.__hearthBench = { versionsAt: null, error: null, status: null })
  try {
    new BroadcastChannel(channelName).onmessage = (e) => { if (e.data?.status) b.status = e.data.status }
  } catch {}
  const ask = async () => {
    while (b.versionsAt === null) {
      try {
        const res = await fetch('/_matrix/client/versions', { cache: 'no-store' })
        const body = await res.json()
        if (res.ok && Array.isArray(body.versions)) b.versionsAt = performance.now()
        else b.error = `HTTP ${res.status}: ${JSON.stringify(body).slice(0, 200)}`
      } catch (err) {
        b.error = String(err)
      }
      if (b.versionsAt === null) await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }
  const sw = navigator.serviceWorker
  if (!sw) b.error = 'no service worker support'
  else if (sw.controller) ask()
  else sw.addEventListener('controllerchange', ask, { once: true })
}

/**
 * A browser on a profile that outlives it; the site stays up across restarts.
 * Its page runs the probe (window.__hearthBench: the worker's status, the
 * first /versions answer). network: record the bytes it downloads (else null).
 */
export async function launch (profile, { network: record = true } = {}) {
  const browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    headless: true,
    args: [...CHROMIUM_ARGS, `--user-data-dir=${profile}`],
    protocolTimeout: 120_000
  })
  const network = record ? await recordNetwork(browser) : null
  const page = await browser.newPage()
  await page.evaluateOnNewDocument(probe, CHANNEL)
  return { browser, network, page }
}

/** Closes a browser, killing it if it does not close within 10 s. */
export async function close (browser) {
  const killer = setTimeout(() => browser.process()?.kill('SIGKILL'), 10_000)
  await browser.close().catch(() => browser.process()?.kill('SIGKILL'))
  clearTimeout(killer)
}

/** Waits for the probe's answer; returns ms from navigation start and the worker's marks relative to it. */
export async function measureLoad (page) {
  try {
    await page.waitForFunction(() => window.__hearthBench?.versionsAt != null, { timeout: BOOT_TIMEOUT_MS, polling: 50 })
  } catch (err) {
    const why = await page.evaluate(() => window.__hearthBench?.error).catch(() => null)
    throw new Error(`no /versions answer within ${BOOT_TIMEOUT_MS / 1000} s${why ? `: ${why}` : ''}`)
  }
  // The 'ready' broadcast, and the one after the first answer, may trail the answer by a moment.
  await page.waitForFunction(() => window.__hearthBench.status?.marks?.firstAnswer !== undefined, { timeout: 2000, polling: 20 }).catch(() => {})
  return page.evaluate(() => {
    const b = window.__hearthBench
    const marks = {}
    for (const [k, v] of Object.entries(b.status?.marks ?? {})) marks[k] = v - performance.timeOrigin
    const pageScript = performance.getEntriesByType('resource').find((e) => new URL(e.name).pathname === '/page.js')
    return { total: b.versionsAt, marks, pageScript: pageScript?.responseEnd }
  })
}

/** The phase split from the worker's marks, where the marks cover this load. */
function phases ({ total, marks: m, pageScript }) {
  const out = { total }
  const span = (from, to) => (m[from] !== undefined && m[to] !== undefined && m[from] >= 0 ? m[to] - m[from] : undefined)
  if (m.bootRequested !== undefined && m.bootRequested >= 0) out['worker-install'] = m.bootRequested
  out.download = span('downloadStarted', 'downloadDone')
  out.compile = span('downloadDone', 'compiled')
  out['storage-open'] = span('storageOpenStarted', 'storageOpened')
  out['go-start'] = span('goStarted', 'ready')
  out['first-answer'] = span('ready', 'firstAnswer')
  if (m.firstAnswer !== undefined && m.firstAnswer >= 0) out['page-delay'] = total - m.firstAnswer
  if (pageScript !== undefined) out['page-script'] = pageScript
  return Object.fromEntries(Object.entries(out).filter(([, v]) => v !== undefined))
}

/** Samples by name across rounds → latency rows. */
function collect () {
  const samples = new Map()
  return {
    add (prefix, split) {
      for (const [k, v] of Object.entries(split)) {
        const name = `${prefix}.${k}`
        if (!samples.has(name)) samples.set(name, [])
        samples.get(name).push(v)
      }
    },
    rows: (note) => [...samples].map(([name, xs]) => latencyRow(name, xs, { note: note(name) }))
  }
}

const NOTES = {
  'worker-install': 'navigation start → the worker asked to boot',
  download: 'hearth.wasm first → last byte; streaming compile runs alongside',
  compile: 'hearth.wasm last byte → compiled',
  'storage-open': 'sql.js + IndexedDB open and replay, the server lock\'s wait included; alongside the download',
  'go-start': 'Go main → ready (Go starts after compile; a storage still opening is waited for inside)',
  'first-answer': 'ready → the worker\'s first answer left it (the requests that waited for the start; the page\'s own may come first)',
  'page-delay': 'the worker\'s first answer → the page has /versions (the answer\'s trip, and the page\'s main thread busy with its own start)',
  'page-script': 'navigation start → the page has page.js (the page\'s own start; in Chromium not through the worker)',
  total: 'navigation start → first /_matrix/client/versions answered by the worker'
}

/** Kept back from the deadline for firstVisitRows: brotli at quality 11 of the ~15 MB first visit takes ~40 s of CPU. */
const FIRST_VISIT_SIZES_MS = 55_000

export async function startup ({ dist, quick, deadline, log = () => {} }) {
  const site = await startSite({ dir: dist, port: 0, host: '127.0.0.1' })
  const times = collect()
  const firstVisit = []
  const restartBytes = []
  const workerRequests = [] // the worker's downloads when the browser comes back, per round
  const compiled = [] // compileFigures of a traced worker restart, one per round
  const rounds = quick ? 1 : 3
  try {
    // Another round only if one as long as the last still fits before the sizes.
    let roundMs = 0
    for (let round = 0; round < rounds && (round === 0 || Date.now() + roundMs < deadline - FIRST_VISIT_SIZES_MS); round++) {
      const roundStarted = Date.now()
      const profile = await mkdtemp(join(tmpdir(), 'hearth-bench-profile-'))
      try {
        let { browser, network, page } = await launch(profile)
        try {
          await page.goto(site.url, { waitUntil: 'domcontentloaded' })
          times.add('startup.cold', phases(await measureLoad(page)))
          log(`round ${round + 1}: cold start measured`)
          firstVisit.push(network.requests())
          await network.stop()

          for (let i = 0; i < (quick ? 1 : 3); i++) {
            await page.reload({ waitUntil: 'domcontentloaded' })
            times.add('startup.warm-reload', { total: (await measureLoad(page)).total })
          }

          const cdp = await page.createCDPSession()
          // The worker stopped, as browsers stop idle ones, and the page reloaded.
          const restart = async () => {
            await cdp.send('ServiceWorker.enable')
            await cdp.send('ServiceWorker.stopAllWorkers')
            await page.reload({ waitUntil: 'domcontentloaded' })
            return measureLoad(page)
          }
          for (let i = 0; i < (quick ? 1 : 2); i++) times.add('startup.worker-restart', phases(await restart()))
          // After some use Chromium has compiled code of the server worth
          // keeping, and a restart starts from it (js/bridge/boot.js).
          log(`round ${round + 1}: reloads and worker restarts measured; sending`)
          await page.evaluate(sendAndSync, quick ? 100 : 300, POLL_HEAD_START_MS, 60_000, 'port', MSG)
          log(`round ${round + 1}: sent`)
          for (let i = 0; i < (quick ? 1 : 2); i++) times.add('startup.worker-restart-after-use', phases(await restart()))
          // As a browser stops a worker: only after ~30 s without events, by
          // when the storage has taken the snapshot it takes once writes
          // pause, and the start replays no journal.
          await page.evaluate(sendAndSync, quick ? 20 : 50, POLL_HEAD_START_MS, 60_000, 'port', MSG)
          await new Promise((resolve) => setTimeout(resolve, DEFAULT_SNAPSHOT_POLICY.idleMs + IDLE_SNAPSHOT_WRITE_MS))
          times.add('startup.worker-restart-after-idle', phases(await restart()))
          // Once more, traced (not timed: tracing slows it): what V8 compiled.
          if (Date.now() < deadline - FIRST_VISIT_SIZES_MS - TRACED_RESTART_MS) {
            await page.tracing.start({ categories: TRACE_CATEGORIES })
            await restart()
            const { traceEvents } = JSON.parse(new TextDecoder().decode(await page.tracing.stop()))
            compiled.push(compileFigures(traceEvents))
            log(`round ${round + 1}: traced restart read`)
          }
          await cdp.detach().catch(() => {})
        } finally {
          await close(browser)
        }

        ;({ browser, network, page } = await launch(profile))
        try {
          await page.goto(site.url, { waitUntil: 'domcontentloaded' })
          times.add('startup.browser-restart', phases(await measureLoad(page)))
          restartBytes.push(network.total().bytes)
          workerRequests.push(network.requests().filter((r) => r.target === 'service_worker'))
          log(`round ${round + 1}: browser restart measured`)
          await network.stop()
        } finally {
          await close(browser)
        }
      } finally {
        await rm(profile, { recursive: true, force: true }).catch(() => {})
      }
      roundMs = Date.now() - roundStarted
    }
  } finally {
    await site.close()
  }

  const rows = times.rows((name) => NOTES[name.split('.').pop()])
  rows.push(...compileRows(compiled))
  rows.push(...await firstVisitRows(firstVisit, dist, site.url))
  if (restartBytes.length) {
    rows.push(latencyRow('size.browser-restart', restartBytes, { unit: 'bytes', note: 'downloaded when the browser comes back (revalidations)' }))
    const paths = workerRequests.at(-1).map((r) => { const { pathname, search } = new URL(r.url); return pathname + search })
    rows.push(latencyRow('size.browser-restart.worker-requests', workerRequests.map((rs) => rs.length), {
      unit: 'requests', note: `the worker's of those${paths.length ? ` (last round: ${paths.join(', ')})` : ''}`
    }))
  }
  return rows
}

/** Time for the snapshot taken once writes pause to be written (startup.worker-restart-after-idle). */
const IDLE_SNAPSHOT_WRITE_MS = 2000

/** Kept back for the traced worker restart of a round. */
const TRACED_RESTART_MS = 15_000

/** startup.traced-restart.*: what V8 compiled in traced worker restarts (bench/wasm-compile-trace.js). */
function compileRows (figures) {
  if (figures.length === 0) return []
  const hits = figures.filter((f) => f.cacheHit).length
  const of = `traced worker restarts after use (${hits} of ${figures.length} from compiled code Chromium kept)`
  const row = (name, key, unit, note) => latencyRow(`startup.traced-restart.${name}`, figures.map((f) => f[key]), { unit, note: `${note}; ${of}` })
  return [
    row('lazy-functions', 'lazyFunctions', 'functions', 'wasm functions compiled on first call on the worker\'s thread (Go\'s and sql.js\'s); Go\'s start waits for each'),
    row('lazy-cpu', 'lazyCpuMs', 'ms', 'CPU of those compiles'),
    row('lazy-wall', 'lazyWallMs', 'ms', 'wall time of those compiles: over their CPU, the wait for a core'),
    row('tier-up-cpu', 'tierUpCpuMs', 'ms', 'background CPU recompiling hot functions with TurboFan meanwhile'),
    row('validate-cpu', 'validateCpuMs', 'ms', 'background CPU validating a module compiled from its bytes')
  ]
}

async function firstVisitRows (visits, dist, siteURL) {
  if (visits.length === 0) return []
  const bytes = visits.map((reqs) => reqs.reduce((sum, r) => sum + r.bytes, 0))
  const last = visits.at(-1)
  const paths = last.map((r) => new URL(r.url).pathname)
  // The same files, as a host that pre-compresses with brotli would send them (bodies only).
  let brotli = 0
  for (const path of new Set(paths)) {
    const file = path === '/' ? 'index.html' : path.slice(1)
    try {
      brotli += (await compressedSizes(await readFile(join(dist, file)))).brotli
    } catch { /* not a file of dist/: counted as zero */ }
  }
  const sameOrigin = last.every((r) => r.url.startsWith(siteURL))
  return [
    latencyRow('size.first-visit', bytes, {
      unit: 'bytes',
      note: `headers + bodies as served by npm start (no compression), ${last.length} requests: ${paths.join(' ')}${sameOrigin ? '' : ' (some cross-origin)'}`
    }),
    valueRow('size.first-visit.brotli', 'bytes', brotli, { note: 'bodies of the same files, brotli quality 11' })
  ]
}

/**
 * In the page: register, create a room, then count send → sync arrivals.
 * via 'fetch': every request by fetch; via 'port': the measured ones as the
 * built-in client sends them, message events each answered on a port of its
 * own (the wire of sw/protocol.js, msg = its MSG; js/page/port-fetch.js is
 * the client's side).
 */
export async function sendAndSync (count, headStartMs, budgetMs, via, msg) {
  const began = performance.now()
  let token = null
  const overFetch = async (method, path, headers, body) => {
    const res = await fetch(path, { method, headers, body })
    return { status: res.status, text: await res.text(), timing: res.headers.get('server-timing') }
  }
  const overPort = async () => {
    const sw = navigator.serviceWorker.controller
    const hello = new MessageChannel()
    const said = new Promise((resolve) => { hello.port1.onmessage = resolve })
    sw.postMessage({ type: msg.clientHello }, [hello.port2])
    await Promise.race([said, new Promise((resolve, reject) => setTimeout(() => reject(new Error('the worker did not say hello on the client port')), 5000))])
    let next = 1
    return (method, path, headers, body) => new Promise((resolve) => {
      const bytes = body === undefined ? null : new TextEncoder().encode(body).buffer
      const request = { id: next++, method, url: new URL(path, location.href).href, headers: Object.entries(headers), body: bytes }
      const { port1, port2 } = new MessageChannel()
      port1.onmessage = ({ data: answer }) => {
        if (answer.accepted !== undefined) return // which worker life took it; the answer follows
        port1.close()
        const timing = answer.headers.find(([name]) => name.toLowerCase() === 'server-timing')
        resolve({ status: answer.status, text: answer.body === null ? '' : new TextDecoder().decode(answer.body), timing: timing?.[1] ?? null })
      }
      sw.postMessage({ type: msg.clientRequest, request }, bytes === null ? [port2] : [port2, bytes])
    })
  }
  let transport = overFetch
  const api = async (method, path, body) => {
    const headers = { 'content-type': 'application/json' }
    if (token) headers.authorization = `Bearer ${token}`
    return transport(method, path, headers, body === undefined ? undefined : JSON.stringify(body))
  }
  const ok = async (method, path, body, split) => {
    const res = await api(method, path, body)
    if (res.status !== 200) throw new Error(`${method} ${path}: HTTP ${res.status} ${res.text.slice(0, 200)}`)
    // Server-Timing (sw/sw.js, js/bridge/globals.js): go;dur=…, worker;dur=…
    if (split) {
      for (const m of (res.timing ?? '').matchAll(/(\w+);dur=([\d.]+)/g)) (split[m[1]] ??= []).push(Number(m[2]))
    }
    return JSON.parse(res.text)
  }
  const user = `bench${Date.now().toString(36)}`
  const password = 'bench password'
  const first = JSON.parse((await api('POST', '/_matrix/client/v3/register', { username: user, password })).text)
  token = (await ok('POST', '/_matrix/client/v3/register', { username: user, password, auth: { type: 'm.login.dummy', session: first.session } })).access_token
  const roomId = (await ok('POST', '/_matrix/client/v3/createRoom', { name: 'bench' })).room_id
  if (via === 'port') transport = await overPort()
  // First the hop alone (quick), then the messages (the bulk of the time).
  const versions = []
  const versionsSplit = {}
  for (let i = 0; i < count && performance.now() - began < budgetMs / 4; i++) {
    const t0 = performance.now()
    await ok('GET', '/_matrix/client/versions', undefined, versionsSplit)
    versions.push(performance.now() - t0)
  }
  let since = (await ok('GET', '/_matrix/client/v3/sync?timeout=0')).next_batch
  const poll = (from) => api('GET', `/_matrix/client/v3/sync?timeout=30000&since=${encodeURIComponent(from)}`)
  const send = []
  const sendSplit = {}
  const arrival = []
  for (let i = 0; i < count && performance.now() - began < budgetMs; i++) {
    let polled = poll(since)
    await new Promise((resolve) => setTimeout(resolve, headStartMs))
    const t0 = performance.now()
    const sent = await ok('PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/bench${i}`, { msgtype: 'm.text', body: `message ${i}` }, sendSplit)
    send.push(performance.now() - t0)
    for (;;) {
      const res = await polled
      if (res.status !== 200) throw new Error(`/sync: HTTP ${res.status} ${res.text.slice(0, 200)}`)
      const arrived = res.text.includes(sent.event_id)
      if (arrived) arrival.push(performance.now() - t0)
      since = JSON.parse(res.text).next_batch
      if (arrived) break
      polled = poll(since) // an answer without our message: poll again
    }
  }
  return { send, arrival, versions, versionsSplit, sendSplit }
}

/**
 * In the page: the IndexedDB floor, p50 of readwrite transactions each
 * putting 200 bytes with durability 'strict', as the storage journal commits.
 * gapMs: an idle pause before each, as between a client's sends (back to
 * back, the browser's storage threads never sleep: measured 0.7 ms, against
 * 1.5–1.8 ms after 10 ms idle).
 */
async function indexedDBCommits (count, gapMs = 0) {
  const db = await new Promise((resolve, reject) => {
    const req = indexedDB.open('hearth-bench-floor', 1)
    req.onupgradeneeded = () => req.result.createObjectStore('records')
    req.onsuccess = () => resolve(req.result)
    req.onerror = () => reject(req.error)
  })
  const record = new Uint8Array(200)
  const took = []
  for (let i = 0; i < count; i++) {
    if (gapMs > 0) await new Promise((resolve) => setTimeout(resolve, gapMs))
    const t0 = performance.now()
    await new Promise((resolve, reject) => {
      const tx = db.transaction('records', 'readwrite', { durability: 'strict' })
      tx.objectStore('records').put(record, i)
      tx.oncomplete = resolve
      tx.onerror = () => reject(tx.error)
    })
    took.push(performance.now() - t0)
  }
  db.close()
  return took
}

/**
 * The floor under clientapi.browser.versions, from a site of its own whose
 * service worker answers at once: fetch = a 125-byte body (about /versions'
 * answer) as a one-chunk stream, the shape serveFetch answers in
 * (js/bridge/globals.js); port = the same bytes to the worker and back over
 * a MessagePort held open, the floor of a hop that would not use fetch;
 * event = the same bytes as a message event answered on a port of its own,
 * the floor of the client port as the built-in client uses it.
 */
const FLOOR_WORKER = `
self.addEventListener('install', () => self.skipWaiting())
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()))
self.addEventListener('fetch', (event) => {
  if (new URL(event.request.url).pathname !== '/floor') return
  const body = new ReadableStream({ start (c) { c.enqueue(new Uint8Array(125)); c.close() } })
  event.respondWith(new Response(body, { headers: { 'content-type': 'application/json' } }))
})
self.addEventListener('message', (event) => {
  const port = event.ports[0]
  if (event.data?.echo) port.postMessage(event.data.echo)
  else if (port) port.onmessage = (m) => port.postMessage(m.data)
})
`

async function hopFloors (browser, count) {
  const dir = await mkdtemp(join(tmpdir(), 'hearth-bench-floor-'))
  await writeFile(join(dir, 'index.html'), '<!doctype html><title>floor</title>')
  await writeFile(join(dir, 'floor-sw.js'), FLOOR_WORKER)
  const site = await startSite({ dir, port: 0, host: '127.0.0.1' })
  const page = await browser.newPage()
  try {
    await page.goto(site.url, { waitUntil: 'domcontentloaded' })
    return await page.evaluate(async (count) => {
      await navigator.serviceWorker.register('/floor-sw.js')
      if (!navigator.serviceWorker.controller) {
        await new Promise((resolve) => navigator.serviceWorker.addEventListener('controllerchange', resolve, { once: true }))
      }
      const fetches = []
      for (let i = 0; i < count; i++) {
        const t0 = performance.now()
        await (await fetch('/floor')).arrayBuffer()
        fetches.push(performance.now() - t0)
      }
      const { port1, port2 } = new MessageChannel()
      navigator.serviceWorker.controller.postMessage(null, [port2])
      const echo = (bytes) => new Promise((resolve) => { port1.onmessage = resolve; port1.postMessage(bytes) })
      await echo(new Uint8Array(125)) // the worker has the port
      const ports = []
      for (let i = 0; i < count; i++) {
        const t0 = performance.now()
        await echo(new Uint8Array(125))
        ports.push(performance.now() - t0)
      }
      const events = []
      for (let i = 0; i < count; i++) {
        const t0 = performance.now()
        const own = new MessageChannel()
        await new Promise((resolve) => {
          own.port1.onmessage = resolve
          navigator.serviceWorker.controller.postMessage({ echo: new Uint8Array(125) }, [own.port2])
        })
        own.port1.close()
        events.push(performance.now() - t0)
      }
      return { fetches, ports, events }
    }, count)
  } finally {
    await page.close().catch(() => {})
    await site.close()
    await rm(dir, { recursive: true, force: true }).catch(() => {})
  }
}

export async function clientapiBrowser ({ dist, quick, deadline }) {
  const site = await startSite({ dir: dist, port: 0, host: '127.0.0.1' })
  const profile = await mkdtemp(join(tmpdir(), 'hearth-bench-profile-'))
  try {
    const { browser, page } = await launch(profile)
    try {
      await page.goto(site.url, { waitUntil: 'domcontentloaded' })
      await measureLoad(page)
      const budget = Math.max(5_000, deadline - Date.now() - 10_000)
      const floor = await page.evaluate(indexedDBCommits, quick ? 50 : 200)
      const idleFloor = await page.evaluate(indexedDBCommits, quick ? 20 : 100, 10)
      const started = Date.now()
      const { send, arrival, versions, versionsSplit, sendSplit } = await page.evaluate(sendAndSync, quick ? 100 : 500, POLL_HEAD_START_MS, budget / 2, 'fetch', MSG)
      const port = await page.evaluate(sendAndSync, quick ? 100 : 500, POLL_HEAD_START_MS, budget - (Date.now() - started) - 3_000, 'port', MSG)
      const floors = await hopFloors(browser, quick ? 100 : 300)
      // The same floor where the journal commits: in the service worker.
      const ours = (t) => t.type() === 'service_worker' && new URL(t.url()).origin === new URL(site.url).origin
      const worker = await (await browser.waitForTarget(ours, { timeout: 10_000 })).worker()
      const workerFloor = await worker.evaluate(indexedDBCommits, quick ? 50 : 200)
      const workerIdleFloor = await worker.evaluate(indexedDBCommits, quick ? 20 : 100, 10)
      const floorRow = latencyRow('clientapi.browser.indexeddb-commit', floor, { note: "the floor: one readwrite transaction putting 200 bytes, durability 'strict', from the page, same run" })
      const workerFloorRow = latencyRow('clientapi.browser.indexeddb-commit.worker', workerFloor, { note: 'the same from the service worker, where the journal commits, same run' })
      const ratio = (name, row) => valueRow(`${name}.floor-ratio`, 'ratio', row.p50 / floorRow.p50, {
        samples: row.samples, note: `${name} p50 / IndexedDB commit p50 of the same run (issue 13: ≤ 5)`
      })
      const sendRow = latencyRow('clientapi.browser.send', send, { note: 'PUT /send answered' })
      const arrivalRow = latencyRow('clientapi.browser.send-sync', arrival, { note: 'send → arrival in a waiting /sync long-poll; fetch from the page through the service worker to wasm, IndexedDB journal' })
      const portSendRow = latencyRow('clientapi.browser.port.send', port.send, { note: 'PUT /send answered, sent as the built-in client sends it (a message event answered on a port, not fetch), same run' })
      const portArrivalRow = latencyRow('clientapi.browser.port.send-sync', port.arrival, { note: 'send → arrival in a waiting /sync long-poll, both as the built-in client sends them (message events answered on ports), same run' })
      return [
        floorRow,
        latencyRow('clientapi.browser.indexeddb-commit.after-idle', idleFloor, { note: 'the same, each after 10 ms idle, as a send follows a pause: the part of a send\'s commit that is the browser\'s' }),
        ratio('clientapi.browser.send', sendRow),
        ratio('clientapi.browser.send-sync', arrivalRow),
        latencyRow('clientapi.browser.versions', versions, { note: 'GET /_matrix/client/versions answered: the page → worker → Go hop alone' }),
        latencyRow('clientapi.browser.versions.worker', versionsSplit.worker ?? [], { note: 'of which in the worker: fetch event → answer (Server-Timing worker)' }),
        latencyRow('clientapi.browser.versions.go', versionsSplit.go ?? [], { note: 'of which in Go: hearthServe called → answered (Server-Timing go)' }),
        latencyRow('clientapi.browser.fetch-floor', floors.fetches, { note: "the browser's own part of that hop: a fetch from the page answered at once by a service worker (125 bytes, streamed), same browser" }),
        latencyRow('clientapi.browser.port-floor', floors.ports, { note: '125 bytes from the page to a service worker and back over a MessagePort held open: the floor of a hop without fetch' }),
        latencyRow('clientapi.browser.event-floor', floors.events, { note: '125 bytes to a service worker as a message event (controller.postMessage), back on a port of its own: the floor of the client port as used' }),
        arrivalRow,
        sendRow,
        ratio('clientapi.browser.port.send', portSendRow),
        ratio('clientapi.browser.port.send-sync', portArrivalRow),
        workerFloorRow,
        latencyRow('clientapi.browser.indexeddb-commit.worker-after-idle', workerIdleFloor, { note: 'the worker\'s, each after 10 ms idle' }),
        valueRow('clientapi.browser.port.send.worker-floor-ratio', 'ratio', portSendRow.p50 / workerFloorRow.p50, {
          samples: portSendRow.samples, note: 'clientapi.browser.port.send p50 / the service worker\'s IndexedDB commit p50, same run'
        }),
        latencyRow('clientapi.browser.port.versions', port.versions, { note: 'GET /_matrix/client/versions as a message event answered on a port: the page → worker → Go hop without fetch' }),
        portArrivalRow,
        portSendRow,
        latencyRow('clientapi.browser.port.send.go', port.sendSplit.go ?? [], { note: 'of which in Go (Server-Timing go), over the port' }),
        latencyRow('clientapi.browser.port.send.commit', port.sendSplit.commit ?? [], { note: 'of Go\'s share, the IndexedDB commit\'s wait in the worker (Server-Timing commit), over the port: compare with clientapi.browser.indexeddb-commit' }),
        latencyRow('clientapi.browser.send.worker', sendSplit.worker ?? [], { note: 'of which in the worker: fetch event → answer (Server-Timing worker)' }),
        latencyRow('clientapi.browser.send.go', sendSplit.go ?? [], { note: 'of which in Go, its storage commit included: hearthServe called → answered (Server-Timing go)' }),
        latencyRow('clientapi.browser.send.commit', sendSplit.commit ?? [], { note: 'of Go\'s share, the IndexedDB commit\'s wait in the worker (Server-Timing commit)' })
      ]
    } finally {
      await close(browser)
    }
  } finally {
    await site.close()
    await rm(profile, { recursive: true, force: true }).catch(() => {})
  }
}
