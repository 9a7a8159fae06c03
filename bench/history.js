/**
 * history: start-up and memory as history grows (issue 18), in Chromium, as a
 * person would use Hearth: one tab, one user, 10 rooms, 200-byte messages
 * sent through the client API (from the page, through the service worker, a
 * few in flight at once to fill quickly). At each size (0 / 2,000 / 10,000 /
 * 30,000 events; 0 / 500 / 2,000 with --quick):
 *
 *   history.worker-restart.sync.<N>    the worker stopped over CDP (as browsers stop idle
 *                                      workers: once it has done what it does in the ~30 s
 *                                      a browser waits: moving old events out, its snapshot
 *                                      after writes pause),
 *                                      then the time until an authenticated incremental
 *                                      /sync answers (the worker boots for it), median of 5
 *   history.worker-restart.unsettled.<N>  the same right after sending, which no browser does
 *   history.worker-restart.{storage-open,storage-sql,storage-read,storage-image,storage-replay,go-start,boot,after-ready}.<N>
 *                                      that restart split by the worker's start-up marks
 *   history.browser-restart.sync.<N>   the browser closed and started on the same profile:
 *                                      navigation start → that /sync answered
 *   history.memory.after-send.<N>      RSS of the renderer process hosting the page and the
 *                                      worker (the largest; the note lists every renderer's
 *                                      RSS and PSS) right after sending up to N events
 *   history.memory.after-restart.<N>   the same after a worker restart and a /sync: what a
 *                                      worker serving this history holds (both measured
 *                                      after collecting the worker's garbage)
 *   history.memory.after-browser-restart.<N>   the same after the browser restart's /sync: a
 *                                      renderer no earlier worker life ran in (a worker
 *                                      restart's renderer keeps what the allocators kept
 *                                      of the lives before it, the sending one's included)
 *   history.worker-heap.<N>            the worker's V8 heap (CDP Runtime.getHeapUsage; sql.js's
 *                                      and Go's wasm memories are not in it)
 *   history.worker-array-buffers.<N>   the worker's ArrayBuffers after that restart (where
 *                                      the browser reports them)
 *   history.database-bytes.<N>         sql.js's database image (page_count × page_size)
 *   history.database-bytes-per-event.<N>   the growth since 0 events, per event sent
 *   history.scrollback.<N>             the oldest 50 events of a room through /messages after
 *                                      that restart, median of 3 (older than the newest 1,000
 *                                      events, their JSON is read from the blob store: go/room
 *                                      cold_events.go)
 *   history.snapshot-pause.<N>         the longest pause a snapshot caused in the worker life
 *                                      that sent up to N events
 *   history.fill-rate.<N>              events sent per second while filling
 *   history.<what>.ratio               <what> at the largest size reached / at 0 events
 *                                      (issue 18's goal: ≤ 1.5)
 *
 * The page is a document of the site the worker controls (config.json), not
 * the chat client, so nothing but the benchmark wakes the worker. If the
 * deadline comes first, the sizes reached are reported (rows are named by the
 * events actually sent when that differs from the target: see the note).
 */
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startSite } from '../js/site/serve.js'
import { close, launch, measureLoad } from './browser.js'
import { errorRow, latencyRow, percentile, valueRow } from './rows.js'

const ROOMS = 10
const BODY_BYTES = 200
const IN_FLIGHT = 6
/**
 * Worker restarts measured at each size; the row is their median. (The best
 * of two made the 30k/0 ratio swing 1.1x–1.9x between runs, mostly with the
 * 0-event figure.)
 */
const WORKER_RESTARTS = 5
const RESTART_TIMEOUT_MS = 120_000
/** Kept back from the deadline for the last size's restarts. */
const MEASURE_RESERVE_MS = 120_000
/** One page.evaluate of the fill: well under the browser's protocol timeout (120 s). */
const FILL_STEP_MS = 45_000
/** How long a browser lets a service worker idle before stopping it (Chromium, Firefox). */
const IDLE_STOP_MS = 30_000

export async function history ({ dist, quick, deadline, log = () => {}, emit }) {
  const sizes = quick ? [0, 500, 2_000] : [0, 2_000, 10_000, 30_000]
  const site = await startSite({ dir: dist, port: 0, host: '127.0.0.1' })
  const profile = await mkdtemp(join(tmpdir(), 'hearth-bench-history-'))
  // Rows go out as they are measured (kept if the time limit ends the run); returned only without emit.
  const rows = []
  const out = emit ?? ((row) => rows.push(row))
  const measured = new Map() // events → {workerRestart, browserRestart, memoryAfterSend, memoryAfterRestart, heap, dbBytes}
  let b = null
  try {
    b = await openOn(profile, `${site.url}`)
    await measureLoad(b.page) // first visit: the worker installs and takes control
    const docURL = `${site.url}config.json`
    await b.page.goto(docURL, { waitUntil: 'domcontentloaded' })
    const account = await b.page.evaluate(setUpAccount, ROOMS)
    let sent = 0
    for (const target of sizes) {
      if (target > sent) {
        const from = sent
        let ms = 0
        // In steps well under the protocol's timeout for one evaluate.
        while (sent < target && deadline - Date.now() - MEASURE_RESERVE_MS > 5_000) {
          const budget = Math.min(FILL_STEP_MS, deadline - Date.now() - MEASURE_RESERVE_MS)
          const fill = await b.page.evaluate(fillRooms, account, sent, target, BODY_BYTES, IN_FLIGHT, budget)
          sent = fill.sent
          account.since = fill.since
          ms += fill.ms
        }
        if (sent === from) break
        log(`filled to ${sent} events in ${(ms / 1000).toFixed(1)} s`)
        out(valueRow(`history.fill-rate.${target}`, 'events/s', (sent - from) / (ms / 1000), { samples: sent - from, note: `${IN_FLIGHT} sends in flight from the page, ${BODY_BYTES}-byte bodies, ${ROOMS} rooms` }))
      }
      const events = sent
      const label = events === target ? `${target}` : `${events}`
      const note = events === target ? '' : ` (target ${target}: the time limit came first)`
      const m = { events }
      measured.set(events, m)

      const worker = await workerFigures(b.browser) // collects the worker's garbage first
      m.memoryAfterSend = await rendererMemory(b.browser)
      m.dbBytes = worker.stats.databaseBytes
      m.heap = worker.heap
      out(valueRow(`history.memory.after-send.${label}`, 'bytes', m.memoryAfterSend.rss, { note: `RSS of the renderer hosting the page and the worker, after sending ${events} events (all ${m.memoryAfterSend.processes} renderers: ${m.memoryAfterSend.detail})${note}` }))
      out(valueRow(`history.database-bytes.${label}`, 'bytes', m.dbBytes, { note: `sql.js's image; journal since the last snapshot ${worker.stats.journalRecords} records, ${worker.stats.snapshots} snapshots in this worker life${note}` }))
      out(valueRow(`history.snapshot-pause.${label}`, 'ms', worker.stats.snapshotPauseMaxMs, { note: `longest snapshot pause in the worker life that sent up to ${events} events (${worker.stats.snapshots} snapshots, ${worker.stats.watchedWrites ? `copying written chunks: ${(worker.stats.snapshotBytesCopied / 1e6).toFixed(1)} MB in all` : 'whole exports'})${note}` }))
      if (events > 0 && measured.has(0)) {
        out(valueRow(`history.database-bytes-per-event.${label}`, 'bytes', (m.dbBytes - measured.get(0).dbBytes) / events, { samples: events, note: `growth of sql.js's image since 0 events, per ${BODY_BYTES}-byte message (full-text row included)${note}` }))
      }

      const restartWorker = async () => {
        const cdp = await b.page.createCDPSession()
        await cdp.send('ServiceWorker.enable')
        await cdp.send('ServiceWorker.stopAllWorkers')
        await cdp.detach().catch(() => {})
        const r = await b.page.evaluate(timedSync, account, RESTART_TIMEOUT_MS)
        account.since = r.since
        return r
      }
      // A browser stops a worker only after ~30 s without events; right
      // after sending, the journal the worker leaves is longer than then.
      const unsettled = await restartWorker()
      m.workerRestartUnsettled = unsettled.ms
      out(valueRow(`history.worker-restart.unsettled.${label}`, 'ms', unsettled.ms, { note: `worker stopped over CDP right after sending (not as a browser would: it waits ~30 s without events) → authenticated /sync?since answered${note}` }))
      const settling = await settle(b.browser)
      const restarts = []
      const splits = []
      for (let i = 0; i < WORKER_RESTARTS; i++) {
        const r = await restartWorker()
        restarts.push(r.ms)
        splits.push({ ms: r.ms, split: await workerSplit(b.page, r.startedEpoch) })
      }
      m.workerRestart = percentile([...restarts].sort((a, b) => a - b), 0.5)
      const split = splits.find((s) => s.ms === m.workerRestart)?.split
      out({ ...valueRow(`history.worker-restart.sync.${label}`, 'ms', m.workerRestart, { samples: restarts.length, note: `worker stopped over CDP once it had done what it does before a browser would stop it (${settling}) → authenticated /sync?since answered, median of ${restarts.map(Math.round).join(', ')} ms${note}` }) })
      for (const [what, ms] of Object.entries(split ?? {})) {
        out(valueRow(`history.worker-restart.${what}.${label}`, 'ms', ms, { note: `${SPLIT_NOTES[what]}, in the median restart${note}` }))
      }
      const restarted = await workerFigures(b.browser) // collects the worker's garbage first
      m.heap = restarted.heap
      m.memoryAfterRestart = await rendererMemory(b.browser)
      if (restarted.backing !== undefined) {
        out(valueRow(`history.worker-array-buffers.${label}`, 'bytes', restarted.backing, { note: `the worker's ArrayBuffer backing stores after that restart (CDP Runtime.getHeapUsage backingStorageSize; sql.js's database file is one)${note}` }))
      }
      out(valueRow(`history.memory.after-restart.${label}`, 'bytes', m.memoryAfterRestart.rss, { note: `RSS of the renderer hosting the page and the worker, after a worker restart and a /sync (all ${m.memoryAfterRestart.processes} renderers: ${m.memoryAfterRestart.detail})${note}` }))
      out(valueRow(`history.worker-restart.replay.${label}`, 'ms', restarted.stats.replayMs, { note: `the last restart's open replaying the journal since the snapshot: ${restarted.stats.replayed} records, ${restarted.stats.replayedBytes} bytes${note}` }))
      const scrollback = await b.page.evaluate(timedScrollback, account)
      out(valueRow(`history.scrollback.${label}`, 'ms', scrollback.ms, { samples: scrollback.samples, note: `GET /messages?dir=f&limit=50 of one room from its start (${scrollback.events} events), median of ${scrollback.samples}${note}` }))
      out(valueRow(`history.worker-heap.${label}`, 'bytes', m.heap, { note: `the worker's V8 heap in use after that restart (wasm memories not included)${note}` }))

      await close(b.browser)
      b = null
      const started = await openOn(profile, null)
      b = started
      await b.page.goto(docURL, { waitUntil: 'domcontentloaded' })
      const r = await b.page.evaluate(timedSync, account, RESTART_TIMEOUT_MS)
      account.since = r.since
      m.browserRestart = r.at
      out(valueRow(`history.browser-restart.sync.${label}`, 'ms', m.browserRestart, { note: `browser started on the profile: navigation start → authenticated /sync?since answered${note}` }))
      await workerFigures(b.browser) // collects the worker's garbage first
      m.memoryAfterBrowserRestart = await rendererMemory(b.browser)
      out(valueRow(`history.memory.after-browser-restart.${label}`, 'bytes', m.memoryAfterBrowserRestart.rss, { note: `RSS of the renderer hosting the page and the worker in a browser started on the profile, after that /sync: a renderer no earlier worker life ran in (all ${m.memoryAfterBrowserRestart.processes} renderers: ${m.memoryAfterBrowserRestart.detail})${note}` }))
      if (events < target) break
    }
    for (const row of ratioRows(measured)) out(row)
  } catch (err) {
    out(errorRow('history', err))
  } finally {
    if (b) await close(b.browser)
    await site.close()
    await rm(profile, { recursive: true, force: true }).catch(() => {})
  }
  return rows
}

const SPLIT_NOTES = {
  'storage-open': 'the worker reading its snapshot and journal (sql.js + IndexedDB; runs alongside the wasm compile)',
  'storage-sql': 'of which sql.js compiling (from the open\'s start, alongside the wait for the server lock)',
  'storage-read': 'of which opening IndexedDB, waiting for the server lock, and reading the snapshot and journal (from the open\'s start, alongside sql.js)',
  'storage-image': 'of which the snapshot becoming sql.js\'s database (after both)',
  'storage-replay': 'of which replaying the journal',
  'go-start': 'Go main → ready (Go starts after compile; a storage still opening is waited for inside)',
  'boot': 'the worker script ran → Go ready',
  'after-ready': 'Go ready → the /sync answered'
}

/** The new worker life's start-up marks (sw/protocol.js) as a split, once its 'ready' status arrived. */
async function workerSplit (page, startedEpoch) {
  try {
    await page.waitForFunction((t) => {
      const s = window.__hearthBench?.status
      return s?.phase === 'ready' && s.marks?.workerStarted >= t && s.marks.ready !== undefined
    }, { timeout: 3000, polling: 20 }, startedEpoch)
  } catch {
    return null
  }
  return page.evaluate((startedEpoch) => {
    const m = window.__hearthBench.status.marks
    const answered = window.__hearthBench.syncAnsweredEpoch
    return {
      'storage-open': m.storageOpened - m.storageOpenStarted,
      'storage-sql': m.storageSqlReady - m.storageOpenStarted,
      'storage-read': m.storageRead - m.storageOpenStarted,
      'storage-image': m.storageImageOpened - Math.max(m.storageSqlReady, m.storageRead),
      'storage-replay': m.storageOpened - m.storageImageOpened,
      'go-start': m.ready - m.goStarted,
      boot: m.ready - m.workerStarted,
      'after-ready': answered - m.ready
    }
  }, startedEpoch)
}

/** The largest size reached against 0 events, for each figure the issue sets a goal on. */
function ratioRows (measured) {
  const zero = measured.get(0)
  const largest = [...measured.keys()].sort((a, b) => b - a)[0]
  if (!zero || !largest) return []
  const top = measured.get(largest)
  const figure = [
    ['worker-restart.sync', (m) => m.workerRestart],
    ['worker-restart.unsettled', (m) => m.workerRestartUnsettled],
    ['browser-restart.sync', (m) => m.browserRestart],
    ['memory.after-send', (m) => m.memoryAfterSend?.rss],
    ['memory.after-restart', (m) => m.memoryAfterRestart?.rss],
    ['memory.after-browser-restart', (m) => m.memoryAfterBrowserRestart?.rss]
  ]
  return figure.filter(([, f]) => f(zero) > 0 && f(top) > 0).map(([what, f]) =>
    valueRow(`history.${what}.ratio`, 'ratio', f(top) / f(zero), { note: `at ${largest} events / at 0 events, same run (issue 18: ≤ 1.5)` }))
}

async function openOn (profile, url) {
  const b = await launch(profile, { network: false })
  // Puppeteer holds new workers until the debugger lets them run; let each run at once.
  b.browser.on('targetcreated', (target) => {
    if (target.type() !== 'service_worker') return
    target.createCDPSession().then(async (s) => {
      await s.send('Runtime.runIfWaitingForDebugger').catch(() => {})
      await s.detach().catch(() => {})
    }, () => {})
  })
  if (url) await b.page.goto(url, { waitUntil: 'domcontentloaded' })
  return b
}

/** RSS of the browser's renderer processes (the page's and the worker's), from /proc. */
async function rendererMemory (browser) {
  const root = browser.process()?.pid
  if (!root) return { rss: NaN, processes: 0 }
  const children = new Map()
  const cmdlines = new Map()
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue
    try {
      const stat = await readFile(`/proc/${name}/stat`, 'utf8')
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
      if (!children.has(ppid)) children.set(ppid, [])
      children.get(ppid).push(Number(name))
      cmdlines.set(Number(name), (await readFile(`/proc/${name}/cmdline`, 'utf8')).replaceAll('\0', ' '))
    } catch { /* the process ended */ }
  }
  const each = []
  const walk = async (pid) => {
    for (const child of children.get(pid) ?? []) {
      if (cmdlines.get(child)?.includes('--type=renderer')) {
        try {
          const status = await readFile(`/proc/${child}/status`, 'utf8')
          const rollup = await readFile(`/proc/${child}/smaps_rollup`, 'utf8').catch(() => '')
          const kib = (re, text) => Number(re.exec(text)?.[1] ?? NaN) * 1024
          each.push({ rss: kib(/VmRSS:\s+(\d+)/, status), pss: kib(/Pss:\s+(\d+)/, rollup) })
        } catch { /* the process ended */ }
      }
      await walk(child)
    }
  }
  await walk(root)
  each.sort((a, b) => b.rss - a.rss)
  const mib = (x) => (x / 2 ** 20).toFixed(0)
  return {
    // The largest renderer is the site's, hosting the page and the worker; the others hold no Hearth code.
    rss: each[0]?.rss ?? NaN,
    pss: each[0]?.pss ?? NaN,
    processes: each.length,
    detail: each.map((p) => `${mib(p.rss)} MiB RSS / ${mib(p.pss)} MiB PSS`).join(', ')
  }
}

/**
 * Leaves the worker running about as long as a browser leaves an idle one
 * (30 s after its last event, the restart's /sync): what it does then
 * (moving old events' JSON out every 10 s, go/room cold_events.go; its
 * snapshot once writes pause) is done before it is stopped, as in a browser.
 * Then waits, at most as long again, for a snapshot still waiting or under
 * way, unless the browser has stopped the worker itself. Returns what it
 * waited for, for the row's note.
 */
async function settle (browser) {
  const began = Date.now()
  await new Promise(resolve => setTimeout(resolve, IDLE_STOP_MS - 5_000))
  for (;;) {
    const waited = `${((Date.now() - began) / 1000).toFixed(1)} s`
    if (!browser.targets().some((t) => t.type() === 'service_worker')) return `stopped by the browser after ${waited}`
    const { stats } = await workerFigures(browser, { collect: false })
    if (!stats.snapshotWaiting && !stats.snapshotting) return `settled after ${waited}: ${stats.journalRecords} journal records`
    if (Date.now() - began > 2 * IDLE_STOP_MS) return `not settled in ${waited}: ${stats.journalRecords} journal records`
    await new Promise(resolve => setTimeout(resolve, 250))
  }
}

/** The running worker's storage stats and V8 heap in use, over CDP. */
async function workerFigures (browser, { collect = true } = {}) {
  const target = await browser.waitForTarget((t) => t.type() === 'service_worker', { timeout: 30_000 })
  const s = await target.createCDPSession()
  try {
    const { result } = await s.send('Runtime.evaluate', { expression: 'JSON.stringify(globalThis.hearthStorage.stats())', returnByValue: true })
    if (collect) await s.send('HeapProfiler.collectGarbage').catch(() => {})
    const heap = await s.send('Runtime.getHeapUsage')
    // backingStorageSize (Chromium ≥ 126): the ArrayBuffers' bytes, sql.js's file among them.
    return { stats: JSON.parse(result.value), heap: heap.usedSize, backing: heap.backingStorageSize }
  } finally {
    await s.detach().catch(() => {})
  }
}

/** In the page: a user and its rooms; returns what the other steps need. */
async function setUpAccount (rooms) {
  const call = async (method, path, body, token) => {
    const headers = { 'content-type': 'application/json' }
    if (token) headers.authorization = `Bearer ${token}`
    const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) })
    return { status: res.status, body: await res.json() }
  }
  const username = `history${Date.now().toString(36)}`
  const password = 'bench password'
  const first = await call('POST', '/_matrix/client/v3/register', { username, password })
  const reg = await call('POST', '/_matrix/client/v3/register', { username, password, auth: { type: 'm.login.dummy', session: first.body.session } })
  if (reg.status !== 200) throw new Error(`register: HTTP ${reg.status} ${JSON.stringify(reg.body)}`)
  const token = reg.body.access_token
  const roomIds = []
  for (let i = 0; i < rooms; i++) {
    const res = await call('POST', '/_matrix/client/v3/createRoom', { name: `history ${i}` }, token)
    if (res.status !== 200) throw new Error(`createRoom: HTTP ${res.status} ${JSON.stringify(res.body)}`)
    roomIds.push(res.body.room_id)
  }
  const sync = await call('GET', '/_matrix/client/v3/sync?timeout=0', undefined, token)
  return { token, roomIds, since: sync.body.next_batch }
}

/** In the page: sends messages from..to-1 round the rooms, inFlight at a time, within budgetMs. */
async function fillRooms (account, from, to, bodyBytes, inFlight, budgetMs) {
  const began = performance.now()
  let next = from
  let done = from
  const one = async (i) => {
    const room = encodeURIComponent(account.roomIds[i % account.roomIds.length])
    const body = `message ${i} `.padEnd(bodyBytes, 'x')
    const res = await fetch(`/_matrix/client/v3/rooms/${room}/send/m.room.message/h${i}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${account.token}` },
      body: JSON.stringify({ msgtype: 'm.text', body })
    })
    if (res.status !== 200) throw new Error(`send ${i}: HTTP ${res.status} ${(await res.text()).slice(0, 200)}`)
    done++
  }
  const lane = async () => {
    while (next < to && performance.now() - began < budgetMs) await one(next++)
  }
  await Promise.all(Array.from({ length: inFlight }, lane))
  const ms = performance.now() - began
  // Catch the sync token up, as a client would, so the next /sync is incremental and short.
  const res = await fetch(`/_matrix/client/v3/sync?timeout=0&since=${encodeURIComponent(account.since)}&filter=${encodeURIComponent(JSON.stringify({ room: { timeline: { limit: 1 } } }))}`, {
    headers: { authorization: `Bearer ${account.token}` }
  })
  const since = (await res.json()).next_batch
  return { sent: done, count: done - from, ms, since }
}

/** In the page: one authenticated incremental /sync, timed; at: ms since navigation start. */
async function timedSync (account, timeoutMs) {
  const t0 = performance.now()
  const ctl = new AbortController()
  const timer = setTimeout(() => ctl.abort(), timeoutMs)
  try {
    const res = await fetch(`/_matrix/client/v3/sync?timeout=0&since=${encodeURIComponent(account.since)}`, {
      headers: { authorization: `Bearer ${account.token}` }, signal: ctl.signal
    })
    const text = await res.text()
    if (res.status !== 200) throw new Error(`/sync: HTTP ${res.status} ${text.slice(0, 200)}`)
    const at = performance.now()
    if (window.__hearthBench) window.__hearthBench.syncAnsweredEpoch = performance.timeOrigin + at
    return { ms: at - t0, at, since: JSON.parse(text).next_batch, startedEpoch: performance.timeOrigin + t0 }
  } finally {
    clearTimeout(timer)
  }
}

/** In the page: the oldest page of the first room through /messages, timed (median of 3). */
async function timedScrollback (account) {
  const room = encodeURIComponent(account.roomIds[0])
  const times = []
  let events = 0
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now()
    const res = await fetch(`/_matrix/client/v3/rooms/${room}/messages?dir=f&limit=50`, { headers: { authorization: `Bearer ${account.token}` } })
    const text = await res.text()
    if (res.status !== 200) throw new Error(`/messages: HTTP ${res.status} ${text.slice(0, 200)}`)
    times.push(performance.now() - t0)
    events = JSON.parse(text).chunk.length
  }
  times.sort((a, b) => a - b)
  return { ms: times[Math.floor(times.length / 2)], samples: times.length, events }
}

/**
 * history.headless: a headless peer (node js/peer/cli.js, real wasm, file
 * storage) with 100,000 events starts within issue 18's 1 s:
 *
 *   history.headless.peer-start.<N>   spawn → client API answering, p50 of 3
 *   history.headless.sync.<N>         spawn → an authenticated /sync?since answered
 *   history.headless.storage-open.<N> createStorage on its directory (sql.js open + replay)
 *   history.headless.database-bytes.<N>
 *   history.headless.peer-start.ratio  at N / at 0 events
 *
 * Sending 100,000 messages through the client API takes ~15 minutes here, so
 * the peer sends `real` messages (200-byte bodies, 10 rooms) and the rest are
 * copies of them written straight into its database (events and full-text
 * rows, new event IDs, negative stream positions: older history than the real
 * ones, inserted in ascending order as appends are), in one journal record,
 * as one migration-sized write. Start-up reads
 * the same bytes and rows either way; the copies are never served.
 */
export async function headlessHistory ({ quick, deadline, log = () => {}, emit }) {
  await import('../js/p2p/node-env.js')
  const { call, ok, register, spawnPeer } = await import('../js/peer/harness.js')
  const { createStorage } = await import('../js/storage/index.js')
  const target = quick ? 20_000 : 100_000
  const real = quick ? 200 : 1_000
  // Rows go out as they are measured (kept if the time limit ends the run); returned only without emit.
  const rows = []
  const out = emit ?? ((row) => rows.push(row))
  const dir = await mkdtemp(join(tmpdir(), 'hearth-bench-headless-'))
  try {
    let peer = await spawnPeer(dir)
    const token = await register(peer, 'history')
    const roomIds = []
    for (let i = 0; i < ROOMS; i++) roomIds.push((await ok(peer, 'POST', '/_matrix/client/v3/createRoom', { token, body: { name: `history ${i}` } })).room_id)
    let since = (await ok(peer, 'GET', '/_matrix/client/v3/sync?timeout=0', { token })).next_batch
    await peer.stop()

    const measure = async (events) => {
      const starts = []
      const syncs = []
      for (let i = 0; i < 3 && (i === 0 || Date.now() < deadline - 20_000); i++) {
        const t0 = performance.now()
        const p = await spawnPeer(dir, [], { timeoutMs: 120_000 })
        starts.push(performance.now() - t0)
        const res = await call(p, 'GET', `/_matrix/client/v3/sync?timeout=0&since=${encodeURIComponent(since)}`, { token })
        if (res.status !== 200) throw new Error(`/sync: HTTP ${res.status} ${JSON.stringify(res.body).slice(0, 200)}`)
        syncs.push(performance.now() - t0)
        since = res.body.next_batch
        await p.stop()
      }
      const t0 = performance.now()
      const opened = await createStorage({ persistence: 'file', dir })
      const open = performance.now() - t0
      const dbBytes = opened.stats().databaseBytes
      await opened.close()
      const note = events === 0 ? `one account, ${ROOMS} empty rooms` : `${events} events (${real} sent, the rest copies of them: ascending stream positions, as appended), ${ROOMS} rooms`
      out(latencyRow(`history.headless.peer-start.${events}`, starts, { note: `spawn → client API answering; ${note}` }))
      out(latencyRow(`history.headless.sync.${events}`, syncs, { note: `spawn → authenticated /sync?since answered; ${note}` }))
      out(valueRow(`history.headless.storage-open.${events}`, 'ms', open, { note: `createStorage on the data directory; ${note}` }))
      out(valueRow(`history.headless.database-bytes.${events}`, 'bytes', dbBytes, { note }))
      return starts.sort((a, b) => a - b)[Math.floor(starts.length / 2)]
    }
    const atZero = await measure(0)

    peer = await spawnPeer(dir)
    for (let i = 0; i < real; i++) {
      const room = encodeURIComponent(roomIds[i % ROOMS])
      await ok(peer, 'PUT', `/_matrix/client/v3/rooms/${room}/send/m.room.message/h${i}`, { token, body: { msgtype: 'm.text', body: `message ${i} `.padEnd(BODY_BYTES, 'x') } })
    }
    since = (await ok(peer, 'GET', `/_matrix/client/v3/sync?timeout=0&since=${encodeURIComponent(since)}`, { token })).next_batch
    await peer.stop()
    const t0 = performance.now()
    const { count: events, stats } = await copyMessages(createStorage, dir, target)
    log(`copied to ${events} events in ${((performance.now() - t0) / 1000).toFixed(1)} s: ${JSON.stringify(stats)}`)
    const atTarget = await measure(target)
    out(valueRow('history.headless.peer-start.ratio', 'ratio', atTarget / atZero, { note: `peer start at ${target} events / at 0 events, same run` }))
  } catch (err) {
    out(errorRow('history.headless', err))
  } finally {
    await rm(dir, { recursive: true, force: true }).catch(() => {})
  }
  return rows
}

/**
 * Copies the message events in the peer's database until it holds `target`
 * message events: each copy gets a new event ID and a negative stream position
 * (older than every real event), and its full-text row. One transaction.
 */
async function copyMessages (createStorage, dir, target) {
  const opened = await createStorage({ persistence: 'file', dir })
  const { withBytes } = await import('../js/storage/index.js')
  const db = withBytes(opened.storage)
  const { decodeResult } = await import('../js/storage/codec.js')
  const check = (r) => {
    if (r instanceof Uint8Array || r === undefined) return r
    throw new Error(`storage: ${JSON.stringify(r)}`)
  }
  const read = (sql) => decodeResult(check(db.query(sql, null))).rows
  const columns = read("SELECT name FROM pragma_table_info('events') WHERE name NOT IN ('stream_pos', 'event_id')").map((r) => r[0])
  const messages = Number(read("SELECT COUNT(*) FROM events WHERE type = 'm.room.message'")[0][0])
  const rounds = Math.ceil((target - messages) / messages)
  const list = columns.join(', ')
  const script = [`CREATE TEMP TABLE copy_round (k INTEGER PRIMARY KEY);
WITH RECURSIVE r(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM r WHERE k < ${rounds}) INSERT INTO copy_round SELECT k FROM r;
INSERT INTO events (stream_pos, event_id, ${list})
  SELECT -(c.k * 1000000000 + e.stream_pos), e.event_id || '_' || c.k, ${columns.map((c) => `e.${c}`).join(', ')}
  FROM events e, copy_round c WHERE e.type = 'm.room.message' AND e.stream_pos > 0
  ORDER BY c.k DESC, e.stream_pos DESC LIMIT ${target - messages};
INSERT INTO event_search (rowid, body)
  SELECT e.stream_pos, json_extract(e.json, '$.content.body') FROM events e WHERE e.stream_pos < 0 ORDER BY e.stream_pos;
DROP TABLE copy_round;`].join('\n')
  check(db.begin())
  check(db.exec(script))
  await db.commit()
  const count = Number(read("SELECT COUNT(*) FROM events WHERE type = 'm.room.message'")[0][0])
  await opened.close()
  const stats = opened.stats()
  // Whatever the copy left in the journal is snapshotted here, not in the first measured start.
  await (await createStorage({ persistence: 'file', dir })).close()
  return { count, stats }
}
