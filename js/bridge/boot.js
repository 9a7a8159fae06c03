/**
 * Starts the Go server (dist/hearth.wasm) in this JS realm: a service worker,
 * or Node for the headless peer. No DOM and no Node-only API is used unless a
 * file: URL asks for one.
 *
 * The order follows the bridge contract (js/bridge/globals.js): the wasm is
 * compiled while storage opens, the storage and blob globals are installed as
 * promises of what is still opening, Go runs (and waits for them when it
 * first opens them), and then we wait for Go's ready promise. One realm runs
 * one Go server, because the bridge globals are per realm.
 */
import '../../build/wasm_exec.js' // side effect: sets globalThis.Go (copied from the Go toolchain by `make wasm`)
import { GLOBALS, forgetReady, provide, readyIsSet, whenReady } from './globals.js'
import { createPushGateway } from '../push/index.js'
import { fetchImmutable } from '../assets/fetch.js'

/**
 * Start-up phases, in order. onPhase gets {phase, ...details}:
 *   downloading  {loaded, total}  bytes of the wasm so far (total null if unknown)
 *   compiling    {}               WebAssembly compilation (overlaps the download when streaming)
 *   starting     {}               compiled; Go runs (storage may still be opening);
 *                                waiting for hearthReady
 *   ready        {serverName, version}
 */
export const PHASES = Object.freeze(['downloading', 'compiling', 'starting', 'ready'])

/**
 * Start-up failed; `phase` says where. goEnded: Go ran and has ended (storage
 * failed to open while it waited for it), so starting it again in this realm
 * is safe.
 */
export class BootError extends Error {
  constructor (message, { phase, cause } = {}) {
    super(message, { cause })
    this.name = 'BootError'
    this.phase = phase
    this.goEnded = false
  }
}

/** How long a failed start-up waits for Go to end after storage failed (it ends at once). */
const GO_END_WAIT_MS = 5000

/**
 * @param {object} options
 * @param {URL|string|BufferSource|WebAssembly.Module} options.wasm the server: a URL (string
 *   URLs resolve against the realm's location), the bytes, or a compiled module
 * @param {object|Promise<object>} options.storage the storage object Go uses
 *   (createStorage().storage); a promise lets storage open while the wasm downloads
 * @param {object|Promise<object>} [options.blobs] the media blob store Go uses
 *   (createBlobStore().blobs, js/blobs); without it Go fails to start
 * @param {object} [options.p2p] the p2p object, if any
 * @param {object} [options.push] the hearthPush object (default createPushGateway():
 *   the realm's fetch)
 * @param {(event: {phase: string}) => void} [options.onPhase]
 * @param {string[]} [options.args] extra argv for Go (argv[0] is "hearth")
 * @param {Record<string, string>} [options.env] environment for Go
 * @param {boolean} [options.immutable] the wasm URL names one build's bytes for good (sw.js's
 *   hearth.wasm?v=<hash>): it is taken from the HTTP cache without revalidating (js/assets/fetch.js
 *   says why: without it a worker restart compiled the whole server again)
 * @param {AbortSignal} [options.signal] cancels the download and the wait
 * @param {number} [options.startTimeoutMs] how long Go may take to be ready once storage has opened
 *   (default 120 s); past it start-up fails instead of hanging
 * @returns {Promise<{serverName: string, version: number, exited: Promise<number>, stop: () => Promise<void>, memory: WebAssembly.Memory}>}
 *   exited resolves with Go's exit code if the server ever stops; stop() asks
 *   Go to stop its background work and exit, and resolves once it has (or
 *   after GO_END_WAIT_MS): call it before closing the storage, once nothing
 *   sends it requests; memory is the instance's linear memory (for
 *   measuring, e.g. memory.buffer.byteLength)
 */
export async function startServer ({ wasm, immutable = false, storage, blobs, p2p, push = createPushGateway(), onPhase = () => {}, args = [], env = {}, signal, startTimeoutMs = 120000 } = {}) {
  if (typeof globalThis.Go !== 'function') {
    throw new BootError('wasm_exec.js did not define Go: run `make wasm`', { phase: 'starting' })
  }
  if (storage === undefined || storage === null) {
    throw new BootError('startServer needs a storage object', { phase: 'starting' })
  }
  const report = (phase, details = {}) => {
    try { onPhase({ phase, ...details }) } catch { /* a listener's fault is not ours */ }
  }

  // Storage opens while the wasm downloads and compiles, and may go on
  // opening while Go starts: Go waits for these promises only when it opens
  // them, so its own start-up runs while a large database is still being
  // read. Both must succeed.
  const opened = Promise.all([storage, blobs]).catch((err) => {
    throw new BootError(`cannot open storage: ${err.message}`, { phase: 'starting', cause: err })
  })
  let openedFirst = null // [storage, blobs] once opened
  let openFailure = null // the BootError if they failed
  opened.then((both) => { openedFirst = both }, (err) => { openFailure = err })
  const module = await compile(wasm, { immutable, report, signal })
  if (openFailure !== null) throw openFailure // before Go ran: nothing to end
  const install = ([openedStorage, openedBlobs]) => {
    provide(GLOBALS.storage, openedStorage)
    if (blobs !== undefined) provide(GLOBALS.blobs, openedBlobs)
  }
  if (openedFirst !== null) install(openedFirst)
  else {
    install([0, 1].map((i) => observed(opened.then((both) => both[i]))))
    // Then the objects themselves, for whoever looks later (devtools, benches).
    opened.then(install, () => {})
  }
  if (p2p !== undefined) provide(GLOBALS.p2p, p2p)
  provide(GLOBALS.push, push)
  // A storage that fails to open says so itself, ahead of Go's report of it.
  const storageFailed = observed(opened.then(() => new Promise(() => {})))

  report('starting')
  const go = new globalThis.Go()
  go.argv = ['hearth', ...args]
  go.env = { ...env }
  let exitCode = 0
  go.exit = (code) => {
    exitCode = code
    if (code !== 0) console.warn(`hearth: the Go server exited with code ${code}`)
  }
  let instance
  try {
    instance = await WebAssembly.instantiate(module, go.importObject)
  } catch (err) {
    throw new BootError(`cannot instantiate the server: ${err.message}`, { phase: 'starting', cause: err })
  }
  forgetReady() // a Go that ended before this one may have left its own
  // go.run runs main until it first blocks, so hearthReady is normally set
  // when it returns; its promise settles only when Go exits.
  const exited = go.run(instance).then(() => {
    // wasm_exec.js leaves Go's last timer armed when Go exits, and it then
    // throws "Go program has already exited" from a timer callback.
    for (const timeout of go._scheduledTimeouts?.values() ?? []) clearTimeout(timeout)
    return exitCode
  }, (err) => {
    throw new BootError(`the server crashed: ${err.message}`, { phase: 'starting', cause: err })
  })
  observed(exited) // reported below and by the caller
  const died = observed(exited.then((code) => {
    throw new BootError(`the server exited during start-up (exit code ${code})`, { phase: 'starting' })
  }))
  // Counted from when storage has opened: however long a large database
  // takes to read, Go's own start-up is what must not hang.
  const waiting = { done: false }
  let timer
  const tooSlow = new Promise((resolve, reject) => {
    opened.then(() => {
      if (waiting.done) return
      timer = setTimeout(() => reject(new BootError(
        `the server did not become ready within ${startTimeoutMs / 1000} s`, { phase: 'starting' })), startTimeoutMs)
    }, () => {})
  })
  let info
  try {
    info = await Promise.race([readyFromGo(waiting), storageFailed, died, aborted(signal), tooSlow])
  } catch (err) {
    if (err instanceof BootError) {
      if (err === openFailure) {
        // Go waited for the storage and ends now that it failed.
        err.goEnded = await settlesWithin(exited, GO_END_WAIT_MS)
      }
      throw err
    }
    throw new BootError(`the server failed to start: ${err.message}`, { phase: 'starting', cause: err })
  } finally {
    waiting.done = true
    clearTimeout(timer)
  }
  report('ready', { serverName: info.serverName, version: info.version })
  const stopGo = info.stop
  const stop = async () => {
    if (typeof stopGo !== 'function') return // a Go from before stop(): it ends with its realm
    stopGo()
    await settlesWithin(exited, GO_END_WAIT_MS)
  }
  return { ...info, exited, stop, memory: instance.exports.mem }
}

function delay (ms) {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/**
 * Whether p settles (either way) within ms. The timer is cleared once p
 * settles: left armed, it kept a Node process that had stopped its peer
 * alive for the rest of the wait.
 */
async function settlesWithin (p, ms) {
  let timer
  const late = new Promise((resolve) => { timer = setTimeout(resolve, ms, false) })
  try {
    return await Promise.race([p.then(() => true, () => true), late])
  } finally {
    clearTimeout(timer)
  }
}

/** p, marked as handled: its rejection is reported elsewhere (or to Go, which may never ask). */
function observed (p) {
  p.catch(() => {})
  return p
}

/**
 * Go's ready promise. Go normally sets it before main first blocks, but a main
 * that awaits something first still counts: poll until it appears (the
 * callers race this against Go exiting and the start-up timeout, and set
 * waiting.done when the race is over).
 */
async function readyFromGo (waiting) {
  while (!readyIsSet()) {
    if (waiting.done) return new Promise(() => {}) // the race is over
    await delay(10)
  }
  return whenReady()
}

/** Fetches (when given a URL) and compiles the wasm, reporting progress. */
async function compile (wasm, { immutable, report, signal }) {
  if (wasm instanceof WebAssembly.Module) return wasm
  if (wasm instanceof ArrayBuffer || ArrayBuffer.isView(wasm)) {
    report('compiling')
    return compileBytes(wasm)
  }
  if (typeof wasm !== 'string' && !(wasm instanceof URL)) {
    throw new BootError('options.wasm must be a URL, a string URL, bytes or a WebAssembly.Module', { phase: 'downloading' })
  }
  const url = new URL(wasm, globalThis.location?.href)
  if (url.protocol === 'file:') {
    report('downloading', { loaded: 0, total: null })
    const { readFile } = await import(/* webpackIgnore: true */ 'node:fs/promises')
    const bytes = await readFile(url)
    report('downloading', { loaded: bytes.byteLength, total: bytes.byteLength })
    report('compiling')
    return compileBytes(bytes)
  }

  report('downloading', { loaded: 0, total: null })
  let response
  try {
    response = await (immutable ? fetchImmutable(url, { signal }) : fetch(url, { signal }))
  } catch (err) {
    throw new BootError(`cannot download ${url.pathname}: ${err.message}`, { phase: 'downloading', cause: err })
  }
  if (!response.ok) {
    throw new BootError(`cannot download ${url.pathname}: HTTP ${response.status}`, { phase: 'downloading' })
  }
  const length = Number(response.headers.get('content-length'))
  // Content-Length counts encoded bytes; with Content-Encoding we cannot know the total.
  const total = Number.isFinite(length) && length > 0 && !response.headers.get('content-encoding') ? length : null
  const streaming = typeof WebAssembly.compileStreaming === 'function' &&
    (response.headers.get('content-type') ?? '').split(';')[0].trim() === 'application/wasm'
  if (streaming) {
    // compileStreaming compiles while bytes arrive; 'compiling' is reported
    // when the last byte has. It gets the fetched Response itself, and a
    // clone counts the bytes: Chromium keeps compiled code for the next
    // worker start only with the response's own cache entry (a Response made
    // from a stream has none), and once the server has run a while it then
    // starts from that code instead of compiling 15 MB again.
    // The clone may end after the compiler (or the compiler fail first): its
    // reports stop then, so none comes after what start-up reports next.
    let compiled = false
    let saidCompiling = false
    const progress = (phase, details) => {
      if (compiled) return
      if (phase === 'compiling') saidCompiling = true
      report(phase, details)
    }
    drain(countBytes(response.clone(), total, progress).body)
    try {
      return await WebAssembly.compileStreaming(response)
    } catch (err) {
      throw new BootError(`cannot compile ${url.pathname}: ${err.message}`, { phase: 'compiling', cause: err })
    } finally {
      if (!saidCompiling) report('compiling')
      compiled = true
    }
  }
  const counted = countBytes(response, total, report)
  let bytes
  try {
    bytes = await counted.arrayBuffer()
  } catch (err) {
    throw new BootError(`cannot download ${url.pathname}: ${err.message}`, { phase: 'downloading', cause: err })
  }
  return compileBytes(bytes)
}

async function compileBytes (bytes) {
  try {
    return await WebAssembly.compile(bytes)
  } catch (err) {
    throw new BootError(`cannot compile the server: ${err.message}`, { phase: 'compiling', cause: err })
  }
}

/**
 * The shortest time between two download progress reports. Each report
 * reaches every page (sw.js says it on a BroadcastChannel, and pages redraw
 * their progress): from the HTTP cache, at a worker restart, a report per
 * 1 % was ~100 of them in a few hundred milliseconds, while the worker's
 * thread and the page's compete for the same cores.
 */
const PROGRESS_INTERVAL_MS = 100

/** A Response with the same body that reports download progress, then 'compiling'. */
function countBytes (response, total, report) {
  if (response.body === null) return response
  let loaded = 0
  let lastReport = 0
  let lastReportAt = -Infinity
  const counter = new TransformStream({
    transform (chunk, controller) {
      loaded += chunk.byteLength
      // At most one report per 1 % (or 256 KiB when the total is unknown)
      // and per PROGRESS_INTERVAL_MS.
      const step = total ? total / 100 : 256 * 1024
      const now = performance.now()
      if (loaded - lastReport >= step && now - lastReportAt >= PROGRESS_INTERVAL_MS) {
        lastReport = loaded
        lastReportAt = now
        report('downloading', { loaded, total })
      }
      controller.enqueue(chunk)
    },
    flush () {
      report('downloading', { loaded, total: total ?? loaded })
      report('compiling')
    }
  })
  return new Response(response.body.pipeThrough(counter), {
    status: response.status,
    headers: { 'content-type': 'application/wasm' }
  })
}

/** Reads a stream to its end, dropping what it reads (a failure is the other branch's to report). */
async function drain (stream) {
  if (stream === null) return
  const reader = stream.getReader()
  try {
    while (!(await reader.read()).done);
  } catch {}
}

function aborted (signal) {
  if (signal === undefined) return new Promise(() => {})
  return new Promise((resolve, reject) => {
    const fail = () => reject(new BootError(`start-up cancelled: ${signal.reason?.message ?? signal.reason}`, { phase: 'starting' }))
    if (signal.aborted) fail()
    else signal.addEventListener('abort', fail, { once: true })
  })
}
