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
 * and, once writes have paused for idleMs, when it holds ≥ idleRecords
 * records or ≥ idleWrites statements.
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
 * - databaseFraction = 1/4: a snapshot can cost about the database's size
 *   (it copies, hashes and writes the chunks written since the last one, and
 *   indexes with random keys touch most chunks: ~60% at 250 records), so
 *   waiting for a quarter of the database in journal keeps that cost at ~4
 *   bytes per journal byte while the database is small; the caps take over
 *   past 4 MB.
 * - minBytes = 64 KiB: below that a snapshot would follow nearly every commit
 *   of a new, near-empty database for no gain.
 * - maxReplayMs = 25: replay in a restarting browser worker is dear (cold
 *   code: 5 records of a new account's set-up took 45–63 ms in the history
 *   bench), and a snapshot no longer holds the thread (storage.js copies
 *   only written chunks, in slices), so a journal that cost 25 ms to replay
 *   at open is snapshotted in that life (1 s after open), and the next
 *   restart replays nothing. startup.worker-restart, two pairs in the same
 *   minutes, 100 → 25: total 737 / 642 → 634 / 477 ms, storage open
 *   307 / 285 → 251 / 185 ms. It also catches records cheap in bytes and
 *   dear to replay, such as a new server's schema migrations (11 records,
 *   15 KB: 163 ms to open under Node against 39 ms for their snapshot).
 * - idleMs = 5 s, idleRecords = 50: a browser stops a service worker only
 *   after ~30 s without events, and writes come only from events, so a
 *   worker that is stopped has been idle that long. A snapshot taken when
 *   writes pause is then in place before nearly every stop, and the next
 *   start replays at most idleRecords: cold replay in a restarting worker
 *   costs ~0.7 ms per record (249 records took 180 ms at 30,000 events in
 *   the history bench, 29% of that restart). Not for fewer records: at
 *   30,000 events a snapshot rewrites tens of MB of chunks (indexes with
 *   random keys dirty them everywhere), which a few messages are not worth.
 * - idleWrites = 400: records are not alike. A message's send is ~20
 *   statements; one batch of go/room's cold event mover is 400 (200 rows
 *   deleted and inserted again) and costs no script time when it runs, so
 *   neither bound above saw it: 8 such records were replayed at every
 *   restart, 198 ms of a 689 ms worker restart at 30,000 events in the
 *   history bench. A snapshot after one batch rewrites only the chunks of
 *   the rows it moved.
 */

export const DEFAULT_SNAPSHOT_POLICY = Object.freeze({
  maxRecords: 250,
  maxBytes: 1024 * 1024,
  minBytes: 64 * 1024,
  databaseFraction: 1 / 4,
  maxReplayMs: 25,
  idleMs: 5000,
  idleRecords: 50,
  idleWrites: 400
})

/**
 * Whether the journal is long enough for a snapshot once writes pause.
 * @param {{idleRecords: number, idleWrites: number}} policy
 * @param {{records: number, writes?: number}} journal since the last snapshot, as persisted
 */
export function worthSnapshotWhenIdle (policy, journal) {
  return journal.records >= policy.idleRecords || (journal.writes ?? 0) >= policy.idleWrites
}

/**
 * @param {{maxRecords: number, maxBytes: number, minBytes: number, databaseFraction: number, maxReplayMs: number, idleRecords: number, idleWrites: number}} policy
 * @param {{records: number, bytes: number, writes?: number, replayMs?: number}} journal since the last snapshot, as
 *   persisted; replayMs: what replaying it costs (see Storage.journal)
 * @param {() => number} databaseBytes asked only when the record bound did not decide
 * @param {{idle?: boolean}} [when] idle: writes have paused for policy.idleMs
 */
export function snapshotDue (policy, journal, databaseBytes, { idle = false } = {}) {
  if (journal.records === 0) return false
  if (journal.records >= policy.maxRecords) return true
  if (idle && worthSnapshotWhenIdle(policy, journal)) return true
  if (journal.bytes >= policy.maxBytes) return true
  if ((journal.replayMs ?? 0) >= policy.maxReplayMs) return true
  if (journal.bytes < policy.minBytes) return false // below every size bound: no need to ask
  return journal.bytes >= Math.max(policy.minBytes, databaseBytes() * policy.databaseFraction)
}
