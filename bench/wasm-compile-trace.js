/**
 * What V8 compiled while the service worker started, read from a Chrome
 * trace of that start (TRACE_CATEGORIES). Go's start-up in the worker waits
 * for every wasm function it calls the first time: V8 compiles it then
 * (Liftoff, on the worker's thread). Meanwhile background threads validate
 * the module (when no compiled code was cached) and recompile the hot
 * functions with TurboFan; on a machine of few cores they take the CPU the
 * worker's thread waits for.
 *
 * The figures are thread CPU time (the trace's tdur), not wall time: wall
 * time over CPU time is how long the worker's thread waited for a core.
 */

// The cache events (v8.wasm.moduleCacheHit, v8.wasm.cachedModule) are Blink's,
// in disabled-by-default-devtools.timeline.
export const TRACE_CATEGORIES = ['v8', 'v8.wasm', 'devtools.timeline', 'disabled-by-default-devtools.timeline']

const WORKER_THREAD = 'ServiceWorker thread'

/**
 * @param {object[]} events a trace's traceEvents
 * @returns {{lazyFunctions: number, lazyCpuMs: number, lazyWallMs: number,
 *   tierUpCpuMs: number, validateCpuMs: number, cacheHit: boolean}}
 *   lazy*: wasm functions compiled on first call on the worker's thread (both
 *   modules the worker runs, Go's and sql.js's); tierUpCpuMs: TurboFan
 *   recompiling hot functions in the background; validateCpuMs: background
 *   validation of a module compiled from its bytes; cacheHit: the worker
 *   started from compiled code Chromium had kept
 */
export function compileFigures (events) {
  const workerThreads = new Set(events
    .filter((e) => e.ph === 'M' && e.name === 'thread_name' && e.args?.name === WORKER_THREAD)
    .map((e) => `${e.pid}:${e.tid}`))
  const out = { lazyFunctions: 0, lazyCpuMs: 0, lazyWallMs: 0, tierUpCpuMs: 0, validateCpuMs: 0, cacheHit: false }
  for (const e of events) {
    if (e.name === 'v8.wasm.moduleCacheHit') out.cacheHit = true
    if (e.ph !== 'X') continue
    const cpuMs = (e.tdur ?? 0) / 1000
    if (e.name === 'wasm.CompileLazy' && workerThreads.has(`${e.pid}:${e.tid}`)) {
      out.lazyFunctions++
      out.lazyCpuMs += cpuMs
      out.lazyWallMs += e.dur / 1000
    } else if (e.name === 'wasm.TopTierCompilation') {
      out.tierUpCpuMs += cpuMs
    } else if (e.name === 'wasm.ValidateFunctionsStreaming') {
      out.validateCpuMs += cpuMs
    }
  }
  return out
}
