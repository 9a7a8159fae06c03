/**
 * clientapi.worker-cpu: where the service worker's CPU goes while the
 * built-in client's sends and /syncs run (the port loop of clientapi.browser:
 * each round a /sync long-poll, 5 ms, a send, the poll answering with it).
 * A V8 CPU profile of the worker thread (DevTools protocol, 100 µs samples)
 * is split by whose code each sample was in:
 *
 *   clientapi.worker-cpu.per-round   busy ms of the worker thread per round
 *   clientapi.worker-cpu.go          of which in hearth.wasm (Go: handlers, JSON, signing)
 *   clientapi.worker-cpu.sqljs       in sql-wasm.wasm (SQLite)
 *   clientapi.worker-cpu.js          in JavaScript (sw.js: the bridge, storage, the port)
 *   clientapi.worker-cpu.browser     in the browser's own functions (postMessage,
 *                                    IndexedDB calls, Request/Response), GC and glue
 *
 *   clientapi.worker-cpu.go.gomatrixserverlib  of Go's, inside gomatrixserverlib's calls
 *                                    (building, hashing, signing and auth-checking events,
 *                                    event IDs): the part of Go's share Hearth does not own
 *
 * The site is dist/ with a hearth.wasm built here without `-s -w`, so that
 * Go's functions keep their names (the code is the same; dist's is stripped
 * only of names). The profile is written to bench/results/worker.cpuprofile:
 * open it in DevTools (Performance panel, "Load profile").
 */
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startSite } from '../js/site/serve.js'
import { MSG } from '../sw/protocol.js'
import { close, launch, measureLoad, POLL_HEAD_START_MS, sendAndSync } from './browser.js'
import { buildWasm } from './build-flags.js'
import { errorRow, valueRow } from './rows.js'

const WARM_UP_ROUNDS = 50
const SAMPLE_INTERVAL_US = 100

export async function workerProfile ({ root, dist, quick, deadline }) {
  const named = await mkdtemp(join(tmpdir(), 'hearth-bench-named-'))
  const profileDir = await mkdtemp(join(tmpdir(), 'hearth-bench-profile-'))
  let site = null
  try {
    await cp(dist, named, { recursive: true })
    // Over dist's own: the profiling keeps its last 40 s of the time limit.
    await buildWasm({ name: 'hearth', flags: ['-trimpath'] }, { root, dir: named, deadline: deadline - 40_000 })
    site = await startSite({ dir: named, port: 0, host: '127.0.0.1' })
    const { browser, page } = await launch(profileDir, { network: false })
    try {
      await page.goto(site.url, { waitUntil: 'domcontentloaded' })
      await measureLoad(page)
      const worker = await browser.waitForTarget((t) => t.type() === 'service_worker', { timeout: 10_000 })
      const cdp = await worker.createCDPSession()
      await page.evaluate(sendAndSync, WARM_UP_ROUNDS, POLL_HEAD_START_MS, 30_000, 'port', MSG)
      await cdp.send('Profiler.enable')
      await cdp.send('Profiler.setSamplingInterval', { interval: SAMPLE_INTERVAL_US })
      await cdp.send('Profiler.start')
      const budget = Math.max(5_000, deadline - Date.now() - 10_000)
      const { send } = await page.evaluate(sendAndSync, quick ? 100 : 300, POLL_HEAD_START_MS, budget, 'port', MSG)
      const { profile } = await cdp.send('Profiler.stop')
      const results = join(root, 'bench', 'results')
      await mkdir(results, { recursive: true })
      await writeFile(join(results, 'worker.cpuprofile'), JSON.stringify(profile))
      const ms = splitByCode(profile)
      const rounds = send.length
      const per = (x) => x / Math.max(1, rounds)
      const note = (what) => `${what}; ms per round over ${rounds} rounds (a /sync long-poll, a send, the poll answering; the loop's own registration and room, mostly bcrypt, add ~0.25 ms a round), V8 CPU profile of the worker thread at ${SAMPLE_INTERVAL_US} µs, saved as bench/results/worker.cpuprofile`
      return [
        valueRow('clientapi.worker-cpu.per-round', 'ms', per(ms.go + ms.sqljs + ms.js + ms.browser), { samples: rounds, note: note('the worker thread busy') }),
        valueRow('clientapi.worker-cpu.go', 'ms', per(ms.go), { samples: rounds, note: note('in hearth.wasm (Go)') }),
        ms.gomatrixserverlib > 0
          ? valueRow('clientapi.worker-cpu.go.gomatrixserverlib', 'ms', per(ms.gomatrixserverlib), { samples: rounds, note: note('of Go\'s, inside gomatrixserverlib\'s calls (building, hashing, signing and auth-checking events, event IDs): what Hearth does not own') })
          : errorRow('clientapi.worker-cpu.go.gomatrixserverlib', 'no gomatrixserverlib function by name in the profile'),
        valueRow('clientapi.worker-cpu.sqljs', 'ms', per(ms.sqljs), { samples: rounds, note: note('in sql-wasm.wasm (SQLite)') }),
        valueRow('clientapi.worker-cpu.js', 'ms', per(ms.js), { samples: rounds, note: note('in JavaScript (sw.js)') }),
        valueRow('clientapi.worker-cpu.browser', 'ms', per(ms.browser), { samples: rounds, note: note('in the browser\'s functions, GC and the wasm/JS glue') })
      ]
    } finally {
      await close(browser)
    }
  } finally {
    await site?.close()
    await rm(profileDir, { recursive: true, force: true }).catch(() => {})
    await rm(named, { recursive: true, force: true }).catch(() => {})
  }
}

/**
 * ms of the profile by whose code was on top of the stack: go, sqljs, js,
 * browser, idle; and gomatrixserverlib: samples with one of its functions
 * anywhere on the stack (what it calls included).
 */
function splitByCode (profile) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const parent = new Map()
  for (const n of profile.nodes) for (const child of n.children ?? []) parent.set(child, n.id)
  const inLibrary = new Map()
  const underLibrary = (id) => {
    if (id === undefined) return false
    if (!inLibrary.has(id)) inLibrary.set(id, LIBRARY.test(byId.get(id).callFrame.functionName) || underLibrary(parent.get(id)))
    return inLibrary.get(id)
  }
  const ms = { go: 0, sqljs: 0, js: 0, browser: 0, idle: 0, gomatrixserverlib: 0 }
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = (profile.timeDeltas[i + 1] ?? 0) / 1000
    ms[kindOf(byId.get(profile.samples[i]).callFrame)] += dt
    if (underLibrary(profile.samples[i])) ms.gomatrixserverlib += dt
  }
  return ms
}

/** gomatrixserverlib's functions (and its packages') as V8 names them from the wasm's name section. */
const LIBRARY = /^github\.com_matrix_org_gomatrixserverlib[._]/

function kindOf ({ functionName, url }) {
  if (functionName === '(idle)') return 'idle'
  if (url.includes('hearth.wasm')) return 'go'
  if (url.includes('sql-wasm.wasm')) return 'sqljs'
  if (url.endsWith('.js') || /\.js[?#]/.test(url)) return 'js'
  return 'browser'
}
