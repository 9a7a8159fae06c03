/**
 * Commit cost of a small write, journal versus whole-database export.
 * Prints one JSON object per line; never fails on numbers.
 *
 *   node js/storage/bench.js [commits per size]
 *
 * journal:  createStorage file persistence (append + fdatasync per commit,
 *           snapshots in the background, counted in bytes per commit)
 * export:   the phase-1 way: db.export() and an atomic file write per commit
 */

import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import initSqlJs from 'sql.js'
import { createStorage } from './index.js'
import { encodeParams, TAG_INTEGER, TAG_TEXT } from './codec.js'
import { writeFileDurably } from './file-persistence.js'

const COMMITS = Number(process.argv[2] ?? 200)
const SIZES = [1_000, 10_000, 100_000]
const text = s => ({ name: '', tag: TAG_TEXT, value: new TextEncoder().encode(s) })
const int = v => ({ name: '', tag: TAG_INTEGER, value: BigInt(v) })
const row = i => `event ${i} ` + 'x'.repeat(80)

function percentile (sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]
}

function summary (mode, rows, latencies, bytes) {
  latencies.sort((a, b) => a - b)
  return {
    mode,
    rows,
    commits: latencies.length,
    p50_ms: +percentile(latencies, 0.5).toFixed(3),
    p99_ms: +percentile(latencies, 0.99).toFixed(3),
    bytes_per_commit: Math.round(bytes / latencies.length)
  }
}

function check (res) {
  if (res !== undefined && !(res instanceof Uint8Array)) throw new Error(`${res.name}: ${res.message}`)
}

async function journal (rows) {
  const dir = await mkdtemp(join(tmpdir(), 'hearth-bench-'))
  try {
    const s = await createStorage({ persistence: 'file', dir, name: 'bench' })
    check(s.storage.exec('CREATE TABLE events (id INTEGER PRIMARY KEY, body TEXT)'))
    await s.storage.commit()
    const insert = s.storage.prepare('INSERT INTO events (id, body) VALUES (?, ?)')
    check(s.storage.begin())
    for (let i = 1; i <= rows; i++) check(s.storage.run(insert, encodeParams([int(i), text(row(i))])))
    await s.storage.commit()
    // Let the snapshot the bulk load triggers finish outside the measurement.
    await new Promise(resolve => setTimeout(resolve, 1000))
    const before = s.stats()
    const latencies = []
    for (let i = rows + 1; i <= rows + COMMITS; i++) {
      const t0 = performance.now()
      check(s.storage.begin())
      check(s.storage.run(insert, encodeParams([int(i), text(row(i))])))
      await s.storage.commit()
      latencies.push(performance.now() - t0)
    }
    const after = s.stats()
    await s.close()
    const bytes = (after.journalBytesWritten - before.journalBytesWritten) + (after.snapshotBytesWritten - before.snapshotBytesWritten)
    return summary('journal', rows, latencies, bytes)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

async function wholeExport (SQL, rows) {
  const dir = await mkdtemp(join(tmpdir(), 'hearth-bench-'))
  try {
    const db = new SQL.Database()
    db.run('CREATE TABLE events (id INTEGER PRIMARY KEY, body TEXT)')
    db.run('BEGIN')
    const st = db.prepare('INSERT INTO events (id, body) VALUES (?, ?)')
    for (let i = 1; i <= rows; i++) st.run([i, row(i)])
    db.run('COMMIT')
    const path = join(dir, 'bench.sqlite')
    let bytes = 0
    const latencies = []
    for (let i = rows + 1; i <= rows + COMMITS; i++) {
      const t0 = performance.now()
      db.run('BEGIN')
      st.run([i, row(i)])
      db.run('COMMIT')
      const image = db.export()
      await writeFileDurably(path, image)
      bytes += image.length
      latencies.push(performance.now() - t0)
    }
    st.free()
    db.close()
    return summary('export', rows, latencies, bytes)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

const SQL = await initSqlJs()
for (const rows of SIZES) {
  console.log(JSON.stringify(await journal(rows)))
  console.log(JSON.stringify(await wholeExport(SQL, rows)))
}
