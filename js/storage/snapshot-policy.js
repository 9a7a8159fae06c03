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
 * Why these numbers (bench/storage.js benchRestarts, Node 20, 2 shared
 * cores; each record one event of the 2.7 KB-per-event database that stands
 * in for Hearth's, which grows 2.8 KB and 3.0 KB of journal per message):
 * - Replay costs ~0.4 ms per record under Node (2,000-event database: open
 *   67 ms with 200 records to replay, 394 ms with 990), and more in a browser
 *   worker. maxRecords = 250 bounds replay to ~0.1 s under Node: at 100,000
 *   events loading the 268 MB snapshot already takes ~0.65 s of the 1 s goal.
 * - maxBytes = 1 MiB (~330 such records) bounds what is read and decoded at
 *   open when records are large (a media upload is one big record).
 * - databaseFraction = 1/4: a snapshot costs about the database's size (the
 *   export copies it, ~1 ms per MB, and hashing reads it), so waiting for a
 *   quarter of the database in journal keeps that cost at ~4 bytes per
 *   journal byte while the database is small; the caps take over past 4 MB.
 * - minBytes = 64 KiB: below that a snapshot would follow nearly every commit
 *   of a new, near-empty database for no gain.
 */

export const DEFAULT_SNAPSHOT_POLICY = Object.freeze({
  maxRecords: 250,
  maxBytes: 1024 * 1024,
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
