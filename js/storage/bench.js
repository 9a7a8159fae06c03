/**
 * Commit cost of a small write, journal versus whole-database export, and
 * start-up cost (open + replay) at the same database sizes. Never fails on
 * numbers. The functions are used by `npm run bench` (bench/storage.js); run
 * alone it prints one JSON object per line:
 *
 *   node js/storage/bench.js [commits per size]
 *
 * journal:  createStorage file persistence (append + fdatasync per commit,
 *           snapshots in the background, counted in bytes per commit)
 * export:   the phase-1 way: db.export() and an atomic file write per commit
 * open:     createStorage on a directory holding a database of that size
 *           (snapshot + journal as the journal left them) versus reading one
 *           whole-database export, the phase-1 way
 */

import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import initSqlJs from 'sql.js'
import { createStorage } from './index.js'
import { encodeParams, TAG_INTEGER, TAG_TEXT } from './codec.js'
import { writeFileDurably } from './file-persistence.js'

export const SIZES = Object.freeze([1_000, 10_000, 100_000])
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

async function journal (rows, COMMITS) {
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

async function wholeExport (SQL, rows, COMMITS) {
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

/**
 * Commit latency and bytes per commit, journal and export, at each size.
 * @param {{commits?: number, sizes?: number[], onRow?: (row: object) => void}} [options]
 * @returns {Promise<object[]>} rows {mode, rows, commits, p50_ms, p99_ms, bytes_per_commit}
 */
export async function benchCommits ({ commits = 200, sizes = SIZES, onRow = () => {} } = {}) {
  const SQL = await initSqlJs()
  const out = []
  for (const rows of sizes) {
    for (const result of [await journal(rows, commits), await wholeExport(SQL, rows, commits)]) {
      onRow(result)
      out.push(result)
    }
  }
  return out
}

/**
 * Start-up cost at each size: the database is loaded in commits of 1,000 rows
 * and then `tail` single-row commits (so the journal holds what it would), the
 * storage closed, and opened `rounds` times. Baseline: read one whole export
 * and open it in sql.js.
 * @returns {Promise<object[]>} rows {mode: 'journal-open'|'export-open', rows, rounds, p50_ms, max_ms, replayed}
 */
export async function benchOpen ({ sizes = SIZES, rounds = 3, tail = 100, onRow = () => {} } = {}) {
  const SQL = await initSqlJs()
  const out = []
  for (const rows of sizes) {
    const dir = await mkdtemp(join(tmpdir(), 'hearth-bench-'))
    try {
      await fill(dir, rows, tail)
      const times = []
      let replayed = 0
      for (let i = 0; i < rounds; i++) {
        const t0 = performance.now()
        const s = await createStorage({ persistence: 'file', dir, name: 'bench' })
        times.push(performance.now() - t0)
        replayed = s.stats().replayed ?? 0
        await s.close()
      }
      const journalOpen = { mode: 'journal-open', rows, ...spread(times), replayed }
      // The baseline: the same database as one export file.
      const image = exportOf(SQL, rows + tail)
      const path = join(dir, 'export.sqlite')
      await writeFileDurably(path, image)
      const exportTimes = []
      for (let i = 0; i < rounds; i++) {
        const t0 = performance.now()
        // initSqlJs is part of both start-ups (createStorage calls it too).
        const sql = await initSqlJs()
        const db = new sql.Database(new Uint8Array(await readFile(path)))
        exportTimes.push(performance.now() - t0)
        db.close()
      }
      const exportOpen = { mode: 'export-open', rows, ...spread(exportTimes), bytes: image.length }
      for (const result of [journalOpen, exportOpen]) {
        onRow(result)
        out.push(result)
      }
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  }
  return out
}

async function fill (dir, rows, tail) {
  const s = await createStorage({ persistence: 'file', dir, name: 'bench' })
  check(s.storage.exec('CREATE TABLE events (id INTEGER PRIMARY KEY, body TEXT)'))
  await s.storage.commit()
  const insert = s.storage.prepare('INSERT INTO events (id, body) VALUES (?, ?)')
  const commitRows = async (from, to) => {
    check(s.storage.begin())
    for (let i = from; i <= to; i++) check(s.storage.run(insert, encodeParams([int(i), text(row(i))])))
    await s.storage.commit()
  }
  for (let from = 1; from <= rows; from += 1000) await commitRows(from, Math.min(rows, from + 999))
  for (let i = rows + 1; i <= rows + tail; i++) await commitRows(i, i)
  await s.close() // waits for a background snapshot to finish
}

/** The same rows fill() wrote, as one whole-database export. */
function exportOf (SQL, count) {
  const db = new SQL.Database()
  db.run('CREATE TABLE events (id INTEGER PRIMARY KEY, body TEXT)')
  db.run('BEGIN')
  const st = db.prepare('INSERT INTO events (id, body) VALUES (?, ?)')
  for (let i = 1; i <= count; i++) st.run([i, row(i)])
  st.free()
  db.run('COMMIT')
  const image = db.export()
  db.close()
  return image
}

function spread (times) {
  times.sort((a, b) => a - b)
  return { rounds: times.length, p50_ms: +percentile(times, 0.5).toFixed(3), max_ms: +times.at(-1).toFixed(3) }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const commits = Number(process.argv[2] ?? 200)
  const print = (r) => console.log(JSON.stringify(r))
  await benchCommits({ commits, onRow: print })
  await benchOpen({ onRow: print })
}
