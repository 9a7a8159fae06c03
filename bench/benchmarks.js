/**
 * Every benchmark `npm run bench` runs, in order. Each runs in its own Node
 * process (bench/child.js): the wasm bridge globals are per realm, libp2p
 * installs polyfills, and a benchmark that hangs or crashes must not take the
 * others with it.
 *
 *   name       rows it reports start with name + '.'; `--only` matches it
 *   module     file in bench/ exporting the function `fn`
 *   timeoutMs  hard limit: the process group is killed and an error row
 *              reported; the function gets a deadline a little before it and
 *              should stop measuring and report what it has by then
 *
 * The time limits add up to about 72 minutes, which bounds the whole run on a
 * 2-core machine; typical times are well below them.
 *
 * A function gets {root, dist, deadline (Date.now() ms), quick, log} and
 * returns rows (bench/rows.js). It may throw: that becomes an error row.
 */
export const BENCHMARKS = Object.freeze([
  { name: 'size', module: './size.js', fn: 'size', timeoutMs: 45_000 },
  { name: 'build-flags', module: './build-flags.js', fn: 'buildFlags', timeoutMs: 80_000 },
  { name: 'startup', module: './browser.js', fn: 'startup', timeoutMs: 240_000 },
  { name: 'startup.node', module: './node-startup.js', fn: 'nodeStartup', timeoutMs: 60_000 },
  { name: 'client', module: './client.js', fn: 'client', timeoutMs: 240_000 },
  { name: 'clientapi.browser', module: './browser.js', fn: 'clientapiBrowser', timeoutMs: 70_000 },
  { name: 'clientapi.worker-cpu', module: './worker-profile.js', fn: 'workerProfile', timeoutMs: 120_000 },
  { name: 'clientapi.native', module: './native.js', fn: 'clientapiNative', timeoutMs: 40_000 },
  { name: 'clientapi.wasm', module: './wasm-send.js', fn: 'wasmSend', timeoutMs: 140_000 },
  { name: 'sync', module: './native.js', fn: 'initialSync', timeoutMs: 90_000 },
  { name: 'boundary', module: './boundary.js', fn: 'boundary', timeoutMs: 15_000 },
  { name: 'memory', module: './memory.js', fn: 'memory', timeoutMs: 75_000 },
  { name: 'storage', module: './storage.js', fn: 'storage', timeoutMs: 120_000 },
  { name: 'history', module: './history.js', fn: 'history', timeoutMs: 1_080_000 },
  { name: 'history.headless', module: './history.js', fn: 'headlessHistory', timeoutMs: 240_000 },
  { name: 'media', module: './media.js', fn: 'media', timeoutMs: 240_000 },
  { name: 'p2p', module: './p2p.js', fn: 'p2p', timeoutMs: 120_000 },
  { name: 'p2p.browsers', module: './p2p-browsers.js', fn: 'p2pBrowsers', timeoutMs: 45_000 },
  { name: 'relay.mailbox', module: './mailbox.js', fn: 'relayMailbox', timeoutMs: 40_000 },
  { name: 'relay.compare', module: './relay-compare.js', fn: 'relayCompare', timeoutMs: 150_000 },
  { name: 'relay.flood', module: './relay-flood.js', fn: 'relayFlood', timeoutMs: 240_000 },
  { name: 'relay.routing', module: './relay-routing.js', fn: 'relayRouting', timeoutMs: 180_000 },
  { name: 'relay.routing-go', module: './relay-routing.js', fn: 'relayRoutingGo', timeoutMs: 180_000 },
  { name: 'federation', module: './federation.js', fn: 'federation', timeoutMs: 45_000 },
  { name: 'state', module: './state.js', fn: 'state', timeoutMs: 90_000 },
  { name: 'offline', module: './offline-delivery.js', fn: 'offline', timeoutMs: 150_000 },
  { name: 'backup', module: './backup.js', fn: 'backup', timeoutMs: 180_000 }
])

/**
 * Benchmarks selected by `--only NAME`: NAME is a benchmark, a group of them
 * ("clientapi" runs clientapi.browser and clientapi.native; "p2p" runs p2p and
 * p2p.browsers) or a row name inside one ("size.hearth.wasm" runs size); a row
 * belongs to the benchmark with the longest name it starts with
 * ("p2p.browsers.link-open" runs p2p.browsers, not p2p).
 */
export function select (only) {
  if (only === undefined) return BENCHMARKS
  const named = BENCHMARKS.filter((b) => b.name === only || b.name.startsWith(only + '.'))
  if (named.length > 0) return named
  const owners = BENCHMARKS.filter((b) => only.startsWith(b.name + '.'))
  const longest = Math.max(...owners.map((b) => b.name.length))
  return owners.filter((b) => b.name.length === longest)
}
