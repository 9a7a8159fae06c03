/**
 * When to take a snapshot: once the journal since the last snapshot is long
 * enough to slow start-up, counted as persisted (records replayed at open
 * count, not only this worker life's commits: a service worker restarts every
 * few minutes, and a per-life count let the journal grow without end).
 *
 * A snapshot is due when the journal since the last one holds
 *   records ≥ maxRecords, or
 *   bytes   ≥ min(maxBytes, max(minBytes, databaseBytes × databaseFraction)), or
 *   costs ≥ maxReplayMs to replay (as measured at open, or as its scripts ran)
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
 * - maxReplayMs = 100: what maxRecords ordinary records cost to replay, so it
 *   changes nothing for them; it catches records cheap in bytes and dear to
 *   replay. A new server's journal is its schema migrations: 11 records,
 *   15 KB, under every other bound. Opening them (Node, 15 alternating runs,
 *   load ≈ 7) took 163 ms median against 39 ms for their snapshot; the
 *   migrating life now snapshots most of them (136 ms at the next open,
 *   which replays the rest, finds them dear and snapshots them too). In the
 *   browser this open is on the critical path of a worker restart
 *   (startup.worker-restart.storage-open, 517 ms of 999 ms).
 */

export const DEFAULT_SNAPSHOT_POLICY = Object.freeze({
  maxRecords: 250,
  maxBytes: 1024 * 1024,
  minBytes: 64 * 1024,
  databaseFraction: 1 / 4,
  maxReplayMs: 100
})

/**
 * @param {{maxRecords: number, maxBytes: number, minBytes: number, databaseFraction: number, maxReplayMs: number}} policy
 * @param {{records: number, bytes: number, replayMs?: number}} journal since the last snapshot, as
 *   persisted; replayMs: what replaying it costs (see Storage.journal)
 * @param {() => number} databaseBytes asked only when the record bound did not decide
 */
export function snapshotDue (policy, journal, databaseBytes) {
  if (journal.records === 0) return false
  if (journal.records >= policy.maxRecords) return true
  if (journal.bytes >= policy.maxBytes) return true
  if ((journal.replayMs ?? 0) >= policy.maxReplayMs) return true
  if (journal.bytes < policy.minBytes) return false // below every size bound: no need to ask
  return journal.bytes >= Math.max(policy.minBytes, databaseBytes() * policy.databaseFraction)
}
