/**
 * Benchmark rows: the one shape every benchmark reports (see bench/run.js).
 *
 *   {name, unit, p50?, p99?, value?, samples, cores, note?, error?}
 *
 * name     dotted, group first: "size.hearth.wasm.brotli", "startup.cold.total"
 * unit     "ms", "bytes", "calls/s", "ratio", ...
 * p50/p99  for distributions; value for single figures
 * samples  how many measurements the figure comes from
 * cores    the machine's core count (added by the harness)
 * error    the benchmark could not measure this; the other fields may be absent
 */

/** The p-quantile of sorted numbers (nearest rank, p in [0, 1]). */
export function percentile (sorted, p) {
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]
}

/** Rounds to 3 decimals (µs for ms figures); integers stay integers. */
export function round (x) {
  return Number.isInteger(x) ? x : Math.round(x * 1000) / 1000
}

/** A row for a distribution of measurements; with no samples, an error row. */
export function latencyRow (name, samples, { unit = 'ms', note } = {}) {
  if (samples.length === 0) return { ...errorRow(name, 'no samples: the time limit came first'), unit }
  const sorted = [...samples].sort((a, b) => a - b)
  return withNote({
    name,
    unit,
    p50: round(percentile(sorted, 0.5)),
    p99: round(percentile(sorted, 0.99)),
    samples: sorted.length
  }, note)
}

/** A row for one figure (a size, a rate computed over a run, ...). */
export function valueRow (name, unit, value, { samples = 1, note } = {}) {
  return withNote({ name, unit, value: round(value), samples }, note)
}

/** A row saying a benchmark could not measure something. */
export function errorRow (name, err) {
  const message = err instanceof Error ? err.message : String(err)
  return { name, error: message.split('\n').slice(0, 5).join('\n').slice(0, 1000), samples: 0 }
}

function withNote (row, note) {
  return note === undefined ? row : { ...row, note }
}

/** Milliseconds since start (performance.now() based). */
export function since (start) {
  return performance.now() - start
}
