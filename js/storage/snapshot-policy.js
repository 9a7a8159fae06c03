/**
 * When to take a snapshot: once the journal since the last snapshot is long
 * enough to slow start-up, counted as persisted (records replayed at open
 * count, not only this worker life's commits: a service worker restarts every
 * few minutes, and a per-life count let the journal grow without end).
 *
 * A snapshot is due when the journal since the last one holds
 *   records ≥ maxRecords, or
 *   bytes   ≥ min(maxBytes, max(minBytes, databaseBytes × databaseFraction))
 *
 * Why these numbers (js/storage/bench.js, Node 20, 2 shared cores; records
 * of one 2.8 KB event each, the size Hearth's database grows by per message):
 * - Replay costs ~0.1 ms per record under Node (~0.5 ms in a browser worker,
 *   issue 18), so maxRecords = 1,000 bounds replay to ~0.1 s (~0.5 s).
 * - maxBytes = 4 MiB bounds the bytes read and decoded at open whatever the
 *   record size (a 4 MiB journal reads in a few ms; its records are the cost).
 * - databaseFraction = 1/4: a snapshot costs about the database's size (the
 *   export copies it, ~1 ms per MB, and hashing reads it), so waiting for a
 *   quarter of the database in journal keeps that cost at ~4 bytes per
 *   journal byte while the database is small; the caps take over past 16 MB.
 * - minBytes = 64 KiB: below that a snapshot would follow nearly every commit
 *   of a new, near-empty database for no gain.
 */

export const DEFAULT_SNAPSHOT_POLICY = Object.freeze({
  maxRecords: 1000,
  maxBytes: 4 * 1024 * 1024,
  minBytes: 64 * 1024,
  databaseFraction: 1 / 4
})

/**
 * @param {{maxRecords: number, maxBytes: number, minBytes: number, databaseFraction: number}} policy
 * @param {{records: number, bytes: number}} journal since the last snapshot, as persisted
 * @param {() => number} databaseBytes asked only when the record bound did not decide
 */
export function snapshotDue (policy, journal, databaseBytes) {
  if (journal.records === 0) return false
  if (journal.records >= policy.maxRecords) return true
  if (journal.bytes >= policy.maxBytes) return true
  return journal.bytes >= Math.max(policy.minBytes, databaseBytes() * policy.databaseFraction)
}
