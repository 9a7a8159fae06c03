/**
 * storage: js/storage/bench.js as benchmark rows. Node, file persistence
 * (fdatasync per commit), rows of ~90 bytes standing in for events:
 *
 *   storage.commit.<mode>.<size>        latency of one small commit (p50/p99)
 *   storage.commit.<mode>.<size>.bytes  bytes written per commit
 *   storage.open.<mode>.<size>          start-up: open + snapshot load + journal replay
 *   storage.restart.<events>            open + replay after many restarts with small writes
 *                                       between (2.7 KB-per-event databases, default policy)
 *   storage.restart.<events>.replayed-bytes  journal bytes replayed at that open
 *   storage.snapshot.pause.<events>     the longest the thread is held by a snapshot (its export)
 *   storage.snapshot.bytes.<events>     bytes one snapshot after a single-event commit writes
 *
 * mode journal is Hearth's; export is the whole-database-export baseline (the anchor's way).
 */
import { benchCommits, benchOpen, benchRestarts } from '../js/storage/bench.js'
import { valueRow } from './rows.js'

export async function storage ({ quick }) {
  const rows = []
  const commits = await benchCommits({ commits: quick ? 50 : 200 })
  for (const c of commits) {
    const name = `storage.commit.${c.mode}.${c.rows}`
    rows.push({ name, unit: 'ms', p50: c.p50_ms, p99: c.p99_ms, samples: c.commits, note: `one small commit with ${c.rows} rows in the database` })
    rows.push(valueRow(`${name}.bytes`, 'bytes', c.bytes_per_commit, { samples: c.commits, note: 'written per commit (journal: records and the snapshots they caused)' }))
  }
  const opens = await benchOpen({ rounds: quick ? 1 : 3 })
  for (const o of opens) {
    const mode = o.mode === 'journal-open' ? 'journal' : 'export'
    const note = mode === 'journal'
      ? `createStorage: read snapshot + replay ${o.replayed} journal records (loaded in commits of 1,000 rows, then 100 single-row commits)`
      : `read one ${o.bytes}-byte export and open it in sql.js (initSqlJs included in both)`
    rows.push({ name: `storage.open.${mode}.${o.rows}`, unit: 'ms', p50: o.p50_ms, p99: o.max_ms, samples: o.rounds, note: note + '; p99 is the max' })
  }
  const restarts = await benchRestarts({ lives: quick ? 4 : 12, rounds: quick ? 1 : 3 })
  for (const r of restarts) {
    const db = `${r.events} events, ${(r.dbBytes / 1e6).toFixed(1)} MB database`
    rows.push({ name: `storage.restart.${r.events}`, unit: 'ms', p50: r.open.p50_ms, p99: r.open.max_ms, samples: r.open.rounds, note: `createStorage after many restarts (${db}; ${r.snapshotsInLives} snapshots taken in those lives); p99 is the max` })
    rows.push(valueRow(`storage.restart.${r.events}.replayed-bytes`, 'bytes', r.replayedBytes, { note: `journal replayed at that open: ${r.replayed} records` }))
    rows.push(valueRow(`storage.snapshot.pause.${r.events}`, 'ms', r.pauseMs, { note: `db.export() of the ${db}: the only synchronous part of a snapshot` }))
    rows.push(valueRow(`storage.snapshot.bytes.${r.events}`, 'bytes', r.snapshotBytesWritten, { note: `one snapshot after a single-event commit: ${r.snapshotChunksWritten} changed chunks + manifest, of ${(r.dbBytes / 1e6).toFixed(1)} MB` }))
  }
  return rows
}
