/**
 * storage: js/storage/bench.js as benchmark rows. Node, file persistence
 * (fdatasync per commit), rows of ~90 bytes standing in for events:
 *
 *   storage.commit.<mode>.<size>        latency of one small commit (p50/p99)
 *   storage.commit.<mode>.<size>.bytes  bytes written per commit
 *   storage.open.<mode>.<size>          start-up: open + snapshot load + journal replay
 *
 * mode journal is Hearth's; export is the whole-database-export baseline (the anchor's way).
 */
import { benchCommits, benchOpen } from '../js/storage/bench.js'
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
  return rows
}
