/**
 * storage: js/storage (sql.js with its journal) as benchmark rows. Node, file persistence
 * (fdatasync per commit), rows of ~90 bytes standing in for events:
 *
 *   storage.commit.<mode>.<size>        latency of one small commit (p50/p99)
 *   storage.commit.<mode>.<size>.bytes  bytes written per commit
 *   storage.read.<size>                 µs per read of one row by key outside a transaction
 *   storage.open.<mode>.<size>          start-up: open + snapshot load + journal replay
 *   storage.restart.<events>            open + replay after many restarts with small writes
 *                                       between (2.7 KB-per-event databases, default policy)
 *   storage.restart.<events>.replayed-bytes  journal bytes replayed at that open
 *   storage.snapshot.pause.<events>     the longest the thread is held by a snapshot (copying what changed)
 *   storage.snapshot.pause.lives.<events>  the same, the longest among the restarts' snapshots
 *   storage.snapshot.bytes.<events>     bytes one snapshot after a single-event commit writes
 *
 * mode journal is Hearth's; export is the whole-database-export baseline (the anchor's way).
 *
 * How they are measured: commit cost of a small write, journal versus
 * whole-database export, and start-up cost (open + replay) at the same
 * database sizes. Never fails on numbers.
 *
 * journal:  createStorage file persistence (append + fdatasync per commit,
 *           snapshots in the background, counted in bytes per commit)
 * export:   the phase-1 way: db.export() and an atomic file write per commit
 * open:     createStorage on a directory holding a database of that size
 *           (snapshot + journal as the journal left them) versus reading one
 *           whole-database export, the phase-1 way
 * restarts: event-sized databases (2.8 KB per event, what Hearth's database
 *           grows by per 200-byte message) opened again and again with
 *           single-event commits in between, as a service worker is restarted:
 *           open + replay time after many restarts, journal replayed at open,
 *           and the pause one snapshot causes at that size
 */

import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadSqlJs } from '../js/storage/sqljs.js'
import { createStorage, withBytes } from '../js/storage/index.js'
import { encodeParams, TAG_BLOB, TAG_INTEGER, TAG_TEXT } from '../js/storage/codec.js'
import { filePersistence, writeFileDurably } from '../js/storage/file-persistence.js'
import { percentile, valueRow } from './rows.js'

export async function storage ({ quick }) {
  const rows = []
  const commits = await benchCommits({ commits: quick ? 50 : 200 })
  for (const c of commits) {
    const name = `storage.commit.${c.mode}.${c.rows}`
    rows.push({ name, unit: 'ms', p50: c.p50_ms, p99: c.p99_ms, samples: c.commits, note: `one small commit with ${c.rows} rows in the database` })
    rows.push(valueRow(`${name}.bytes`, 'bytes', c.bytes_per_commit, { samples: c.commits, note: 'written per commit (journal: records and the snapshots they caused)' }))
    if (c.read_us !== undefined) rows.push(valueRow(`storage.read.${c.rows}`, 'µs', c.read_us, { note: `one row read by key outside a transaction, ${c.rows} rows in the database: the median µs per read of 20 batches of 500` }))
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
    rows.push(valueRow(`storage.snapshot.pause.${r.events}`, 'ms', r.pauseMs, { note: `one snapshot after a single-event commit, ${db}: the longest the thread was held copying the chunks written since the last one (js/storage/sqljs.js)` }))
    rows.push(valueRow(`storage.snapshot.pause.lives.${r.events}`, 'ms', r.livesPauseMs, { note: `the longest of the ${r.snapshotsInLives} snapshots taken in the lives (each after ~250 single-event commits, default policy), ${db}; they copied ${(r.livesCopied / 1e6).toFixed(1)} MB in all` }))
    rows.push(valueRow(`storage.snapshot.bytes.${r.events}`, 'bytes', r.snapshotBytesWritten, { note: `one snapshot after a single-event commit: ${r.snapshotChunksWritten} changed chunks + manifest, of ${(r.dbBytes / 1e6).toFixed(1)} MB` }))
  }
  return rows
}

const SIZES = Object.freeze([1_000, 10_000, 100_000])
const text = s => ({ name: '', tag: TAG_TEXT, value: new TextEncoder().encode(s) })
const int = v => ({ name: '', tag: TAG_INTEGER, value: BigInt(v) })
const row = i => `event ${i} ` + 'x'.repeat(80)

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

/**
 * µs per read of one row by key outside any transaction, as most of a
 * /sync's statements run: the median of 20 batches of 500 (one read is too
 * short to time alone). Parameters are encoded beforehand, as Go does.
 */
function readsOutsideTransactions (storage, rows) {
  const select = storage.prepare('SELECT body FROM events WHERE id = ?')
  const params = Array.from({ length: 500 }, (_, i) => encodeParams([int(1 + (i * 7919) % rows)]))
  const batches = []
  for (let b = 0; b < 20; b++) {
    const t0 = performance.now()
    for (const p of params) check(storage.run(select, p))
    batches.push((performance.now() - t0) / params.length * 1000)
  }
  storage.finalize(select)
  batches.sort((a, b) => a - b)
  return +percentile(batches, 0.5).toFixed(2)
}

function check (res) {
  if (res !== undefined && !(res instanceof Uint8Array)) throw new Error(`${res.name}: ${res.message}`)
}

async function journal (rows, COMMITS) {
  const dir = await mkdtemp(join(tmpdir(), 'hearth-bench-'))
  try {
    const s = await createStorage({ persistence: 'file', dir, name: 'bench' })
    const db = withBytes(s.storage)
    check(db.exec('CREATE TABLE events (id INTEGER PRIMARY KEY, body TEXT)'))
    await s.storage.commit()
    const insert = s.storage.prepare('INSERT INTO events (id, body) VALUES (?, ?)')
    check(s.storage.begin())
    for (let i = 1; i <= rows; i++) check(db.run(insert, encodeParams([int(i), text(row(i))])))
    await s.storage.commit()
    // Let the snapshot the bulk load triggers finish outside the measurement.
    await new Promise(resolve => setTimeout(resolve, 1000))
    const before = s.stats()
    const latencies = []
    for (let i = rows + 1; i <= rows + COMMITS; i++) {
      const t0 = performance.now()
      check(s.storage.begin())
      check(db.run(insert, encodeParams([int(i), text(row(i))])))
      await s.storage.commit()
      latencies.push(performance.now() - t0)
    }
    const after = s.stats()
    const readUs = readsOutsideTransactions(db, rows)
    await s.close()
    const bytes = (after.journalBytesWritten - before.journalBytesWritten) + (after.snapshotBytesWritten - before.snapshotBytesWritten)
    return { ...summary('journal', rows, latencies, bytes), read_us: readUs }
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
async function benchCommits ({ commits = 200, sizes = SIZES, onRow = () => {} } = {}) {
  const SQL = await loadSqlJs()
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
async function benchOpen ({ sizes = SIZES, rounds = 3, tail = 100, onRow = () => {} } = {}) {
  const SQL = await loadSqlJs()
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
        const sql = await loadSqlJs()
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
  const db = withBytes(s.storage)
  check(db.exec('CREATE TABLE events (id INTEGER PRIMARY KEY, body TEXT)'))
  await s.storage.commit()
  const insert = s.storage.prepare('INSERT INTO events (id, body) VALUES (?, ?)')
  const commitRows = async (from, to) => {
    check(s.storage.begin())
    for (let i = from; i <= to; i++) check(db.run(insert, encodeParams([int(i), text(row(i))])))
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

const RESTART_SIZES = Object.freeze([2_000, 10_000, 30_000, 100_000])
/**
 * Database bytes per event: Hearth's events row (JSON ~1 KB), its 4 event_edges
 * rows and their indexes and the transaction_ids row come to 2,785 bytes per
 * 200-byte message (measured with bench/node-server.js, 2,000 messages). The
 * tables here are the two big ones, cut down, sized to land near that, with
 * the indexes that make writes touch pages all over the database (event IDs
 * are random, as Hearth's are).
 */
const EVENT_JSON_BYTES = 1_000
const EDGES_PER_EVENT = 4
const EVENT_TABLE = `CREATE TABLE events (stream_pos INTEGER PRIMARY KEY, event_id TEXT NOT NULL UNIQUE, room_id TEXT NOT NULL, json BLOB NOT NULL);
CREATE INDEX events_by_room ON events (room_id, stream_pos);
CREATE TABLE event_edges (event_id TEXT NOT NULL, kind TEXT NOT NULL, target_id TEXT NOT NULL, PRIMARY KEY (event_id, kind, target_id));
CREATE INDEX event_edges_by_target ON event_edges (target_id, kind)`
const INSERT_EVENT = 'INSERT INTO events (stream_pos, event_id, room_id, json) VALUES (?, ?, ?, ?)'
const INSERT_EDGES = "INSERT INTO event_edges (event_id, kind, target_id) VALUES (?1, 'prev', ?2), (?1, 'auth', ?3), (?1, 'auth', ?4), (?1, 'auth', ?5)"
const ROOM = '!' + 'r'.repeat(30) + ':12D3KooW' + 's'.repeat(31)

/** The parameters of event i: random event IDs, one of 10 rooms, incompressible JSON-sized bytes. */
function eventParams (i) {
  const random = crypto.getRandomValues(new Uint8Array(EVENT_JSON_BYTES + 32 * (1 + EDGES_PER_EVENT)))
  const id = k => '$' + Buffer.from(random.subarray(EVENT_JSON_BYTES + 32 * k, EVENT_JSON_BYTES + 32 * (k + 1))).toString('base64url').slice(0, 43)
  return { event: [i, id(0), ROOM + (i % 10), random.subarray(0, EVENT_JSON_BYTES)], edges: [id(0), id(1), id(2), id(3), id(4)] }
}

/**
 * Start-up after many restarts, at each size: a database of `events` events
 * is stored as a snapshot, then opened `lives` times with `writes`
 * single-event commits each (default snapshot policy, so snapshots happen
 * when the persisted journal passes its bounds), then opened `rounds` more
 * times to measure. Last, one life with a snapshot after every commit
 * measures the pause a snapshot causes at that size and the bytes it writes.
 * @returns {Promise<object[]>} rows {events, dbBytes, open: {p50_ms, max_ms, rounds}, replayed, replayedBytes,
 *   snapshotsInLives, pauseMs, snapshotBytesWritten, snapshotChunksWritten, chunks}
 */
async function benchRestarts ({ sizes = RESTART_SIZES, lives = 12, writes = 100, rounds = 3, onRow = () => {} } = {}) {
  const SQL = await loadSqlJs()
  const out = []
  for (const events of sizes) {
    const dir = await mkdtemp(join(tmpdir(), 'hearth-bench-'))
    try {
      const dbBytes = await seedEvents(SQL, dir, events)
      const options = { persistence: 'file', dir, name: 'bench' }
      let next = events + 1
      let snapshotsInLives = 0
      let livesPauseMs = 0
      let livesCopied = 0
      const writeEvents = async (s, n) => {
        const db = withBytes(s.storage)
        const insert = [s.storage.prepare(INSERT_EVENT), s.storage.prepare(INSERT_EDGES)]
        for (let i = 0; i < n; i++) {
          const p = eventParams(next++)
          check(s.storage.begin())
          check(db.run(insert[0], encodeParams(p.event.map(toParam))))
          check(db.run(insert[1], encodeParams(p.edges.map(toParam))))
          await s.storage.commit()
        }
      }
      for (let life = 0; life < lives; life++) {
        const s = await createStorage(options)
        await writeEvents(s, writes)
        await s.close()
        snapshotsInLives += s.stats().snapshots
        livesPauseMs = Math.max(livesPauseMs, s.stats().snapshotPauseMaxMs)
        livesCopied += s.stats().snapshotBytesCopied
      }
      const times = []
      let opened
      for (let i = 0; i < rounds; i++) {
        const t0 = performance.now()
        const s = await createStorage(options)
        times.push(performance.now() - t0)
        opened = s.stats()
        await s.close()
      }
      const s = await createStorage({ ...options, snapshotPolicy: { maxRecords: 1 } })
      await s.close() // the open snapshots what the lives left in the journal
      const one = await createStorage({ ...options, snapshotPolicy: { maxRecords: 1 } })
      await writeEvents(one, 1)
      await one.close()
      const snap = one.stats()
      const result = {
        events,
        dbBytes,
        open: spread(times),
        replayed: opened.replayed,
        replayedBytes: opened.replayedBytes,
        snapshotsInLives,
        livesPauseMs: +livesPauseMs.toFixed(3),
        livesCopied,
        pauseMs: +snap.snapshotPauseMaxMs.toFixed(3),
        snapshotBytesWritten: snap.snapshotBytesWritten,
        snapshotChunksWritten: snap.snapshotChunksWritten
      }
      onRow(result)
      out.push(result)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  }
  return out
}

/** Writes a database of n events to dir as the store's first snapshot; returns its size. */
async function seedEvents (SQL, dir, n) {
  const db = new SQL.Database()
  db.run(EVENT_TABLE)
  db.run('BEGIN')
  const st = [db.prepare(INSERT_EVENT), db.prepare(INSERT_EDGES)]
  for (let i = 1; i <= n; i++) {
    const p = eventParams(i)
    st[0].run(p.event)
    st[1].run(p.edges)
  }
  for (const x of st) x.free()
  db.run('COMMIT')
  const image = db.export()
  db.close()
  const persistence = filePersistence({ dir, name: 'bench' })
  await persistence.load()
  await persistence.snapshot(0, image)
  await persistence.close()
  return image.length
}

function toParam (v) {
  if (typeof v === 'number') return int(v)
  if (typeof v === 'string') return text(v)
  return { name: '', tag: TAG_BLOB, value: v }
}
