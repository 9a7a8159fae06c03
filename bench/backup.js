/**
 * backup: a server in one encrypted file and back (js/backup), at growing
 * sizes. One server (the real wasm, file storage) booted in this process
 * gets messages in one room through the client API; at each size it is
 * exported while running (as the service worker does) and the file imported
 * into an empty directory (as `npm run peer -- --import` does):
 *
 *   backup.export.<events>        write the whole file: scrypt (N=2^17, r=8: ~0.3–1 s of
 *                                 it), the durable snapshot and journal read a chunk at a
 *                                 time, AES-256-GCM in 1 MiB chunks, fsync
 *   backup.export.pause.<events>  the longest the server's thread was held during the export
 *                                 (the event loop's longest delay, perf_hooks)
 *   backup.import.<events>        read, verify and decrypt the file, write the snapshot and journal
 *   backup.file-bytes.<events>    the file (the database image plus 0.002 % of chunk overhead)
 *
 * 1,000 events are sent through the client API (Go building, signing and
 * storing each: 6–20 ms per event on a loaded 2-core machine, so 10,000 took
 * ~190 s and 100,000 would take half an hour). The 10,000 and 100,000
 * databases are grown from that one in SQL: its message rows (events,
 * transaction_ids, the full-text index) copied under new event IDs, stream
 * positions and depths until the events table holds that many: the same bytes
 * per event, tables and indexes as sent ones. A backup only sees the image's
 * bytes (and the blobs, none here), so the rows measure the same work.
 * --quick: 1,000 only. A size the deadline does not leave time for is skipped
 * with an error row.
 */
import '../js/p2p/node-env.js'
import { mkdtemp, rm, stat } from 'node:fs/promises'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { createReadStream } from 'node:fs'
import { loadSqlJs } from '../js/storage/sqljs.js'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { bootServer, matrixClient } from './node-server.js'
import { backupContents, readBackup } from '../js/backup/index.js'
import { nodeScrypt } from '../js/backup/node-scrypt.js'
import { writeBackupFile } from '../js/backup/node-file.js'
import { createStorage, restoreSnapshot } from '../js/storage/index.js'
import { errorRow, valueRow } from './rows.js'

const PASSPHRASE = 'a benchmark passphrase'
/** What the sent size needs after its events are in: its export and import take a few seconds. */
const RESERVE_MS = 20_000
/** Growing to and exporting and importing a size, per 10,000 events, on a loaded 2-core machine. */
const GROWN_RESERVE_MS_PER_10K = 6_000
const SENT_SIZE = 1000
const GROWN_SIZES = [10000, 100000]

export async function backup ({ dist, quick, deadline }) {
  const dir = await mkdtemp(join(tmpdir(), 'hearth-bench-backup-'))
  const rows = []
  try {
    const server = await bootServer({ wasm: join(dist, 'hearth.wasm'), storageOptions: { persistence: 'file', dir: join(dir, 'server') } })
    const client = matrixClient()
    await client.register('bench', 'bench-password')
    const { room_id: roomId } = await client.createRoom({ name: 'bench' })
    let sent = 0
    while (sent < SENT_SIZE && Date.now() < deadline - RESERVE_MS) {
      await client.send(roomId, `t${sent}`, `message ${sent} ${'x'.repeat(100)}`)
      sent++
    }
    if (sent < SENT_SIZE) {
      rows.push(errorRow(`backup.export.${SENT_SIZE}`, `the time limit came first: ${sent} of ${SENT_SIZE} events sent`))
      return rows
    }
    rows.push(...await measure(server.storage, server.blobs.blobs, SENT_SIZE, join(dir, `${SENT_SIZE}`), 'messages (sent)'))
    if (quick) return rows
    const { image } = await server.storage.exportSnapshot()
    for (const events of GROWN_SIZES) {
      if (Date.now() > deadline - GROWN_RESERVE_MS_PER_10K * events / 10000) {
        rows.push(errorRow(`backup.export.${events}`, 'the time limit came first: no time left to grow the database'))
        continue
      }
      const grownDir = join(dir, `grown-${events}`)
      await restoreSnapshot({ persistence: 'file', dir: grownDir }, await grow(image, events))
      const grown = await createStorage({ persistence: 'file', dir: grownDir })
      try {
        rows.push(...await measure(grown, server.blobs.blobs, events, join(dir, `${events}`), `events (grown in SQL from ${SENT_SIZE} sent)`))
      } finally {
        await grown.close()
        await rm(grownDir, { recursive: true, force: true })
      }
    }
    return rows
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

/**
 * A copy of the image with `events` events: the message rows copied under
 * new event IDs ("<id>.<copy>"), new stream positions and depths, with their
 * transaction_ids and full-text rows, until the events table holds that many.
 */
async function grow (image, events) {
  const SQL = await loadSqlJs()
  const db = new SQL.Database(image)
  try {
    const one = (sql) => db.exec(sql)[0].values[0][0]
    const lastPos = one('SELECT max(stream_pos) FROM events')
    const span = one('SELECT max(depth) FROM events')
    for (let copy = 1; one('SELECT count(*) FROM events') < events; copy++) {
      const limit = events - one('SELECT count(*) FROM events')
      db.run('BEGIN')
      db.run(`INSERT INTO events (event_id, room_id, type, state_key, depth, json, rejected, outlier, soft_failed, state_before, state_after)
        SELECT event_id || '.${copy}', room_id, type, state_key, depth + ${copy * span}, json, rejected, outlier, soft_failed, state_before, state_after
        FROM events WHERE stream_pos <= ${lastPos} AND type = 'm.room.message' ORDER BY stream_pos LIMIT ${limit}`)
      db.run(`INSERT INTO transaction_ids (localpart, device_id, room_id, txn_id, event_id)
        SELECT t.localpart, t.device_id, t.room_id, t.txn_id || '.${copy}', t.event_id || '.${copy}'
        FROM transaction_ids t JOIN events c ON c.event_id = t.event_id || '.${copy}'`)
      db.run(`INSERT INTO event_search (rowid, body)
        SELECT c.stream_pos, s.body FROM events c
        JOIN events o ON c.event_id = o.event_id || '.${copy}'
        JOIN event_search s ON s.rowid = o.stream_pos
        WHERE c.stream_pos > ${lastPos}`)
      db.run('COMMIT')
    }
    return db.export()
  } finally {
    db.close()
  }
}

/**
 * @param {object} storage createStorage()'s result, of the server or of a grown copy
 * @param {object} blobs the blob store
 */
async function measure (storage, blobs, events, dir, what) {
  const file = `${dir}.hearth-backup`
  // The export as the worker runs it: durable chunks and journal streamed out into the file.
  const held = monitorEventLoopDelay({ resolution: 1 })
  held.enable()
  const t0 = performance.now()
  const contents = await backupContents(storage, blobs)
  try {
    await writeBackupFile(file, { passphrase: PASSPHRASE, contents })
  } finally {
    contents.release()
  }
  const exportMs = performance.now() - t0
  held.disable()
  const pause = held.max / 1e6
  const fileBytes = (await stat(file)).size

  const t1 = performance.now()
  const read = await readBackup({ passphrase: PASSPHRASE, source: createReadStream(file), scrypt: nodeScrypt })
  await restoreSnapshot({ persistence: 'file', dir }, read.database, read.journal)
  const importMs = performance.now() - t1
  await rm(file)
  await rm(dir, { recursive: true, force: true })
  const db = `${events} ${what}, ${(contents.database.bytes / 1e6).toFixed(1)} MB snapshot + ${(read.journal.length / 1e3).toFixed(0)} KB journal`
  return [
    valueRow(`backup.export.${events}`, 'ms', exportMs, { note: `${db}; scrypt N=2^17 r=8 included` }),
    valueRow(`backup.export.pause.${events}`, 'ms', pause, { note: `${db}: the longest the thread was held while exporting` }),
    valueRow(`backup.import.${events}`, 'ms', importMs, { note: `${db}: scrypt, verify and decrypt, write the snapshot and journal (fsync)` }),
    valueRow(`backup.file-bytes.${events}`, 'bytes', fileBytes, { note: db })
  ]
}
