/**
 * backup: a server in one encrypted file and back (js/backup), at growing
 * sizes. One server (the real wasm, file storage) booted in this process
 * gets messages in one room through the client API; at each size it is
 * exported while running (as the service worker does) and the file imported
 * into an empty directory (as `npm run peer -- --import` does):
 *
 *   backup.export.<events>        write the whole file: scrypt (N=2^17, r=8: ~0.3–1 s of
 *                                 it), the snapshot copy, AES-256-GCM in 1 MiB chunks, fsync
 *   backup.export.pause.<events>  the only time the server is held: the snapshot's copy
 *   backup.import.<events>        read, verify and decrypt the file, write the snapshot
 *   backup.file-bytes.<events>    the file (the database image plus 0.002 % of chunk overhead)
 *
 * Sizes 1,000 and 10,000 events (1,000 with --quick); 100,000 only with
 * HEARTH_BENCH_BACKUP_100K=1 (filling it takes minutes). A size the deadline
 * does not leave time for is skipped with an error row.
 */
import '../js/p2p/node-env.js'
import { mkdtemp, rm, stat } from 'node:fs/promises'
import { createReadStream } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { bootServer, matrixClient } from './node-server.js'
import { readBackup, snapshotContents } from '../js/backup/index.js'
import { nodeScrypt } from '../js/backup/node-scrypt.js'
import { writeBackupFile } from '../js/backup/node-file.js'
import { restoreSnapshot } from '../js/storage/index.js'
import { errorRow, valueRow } from './rows.js'

const PASSPHRASE = 'a benchmark passphrase'
/** What one size needs after its events are in: an export and an import of 10k take ~5 s. */
const RESERVE_MS = 30_000

export async function backup ({ dist, quick, deadline }) {
  const sizes = quick ? [1000] : process.env.HEARTH_BENCH_BACKUP_100K === '1' ? [1000, 10000, 100000] : [1000, 10000]
  const dir = await mkdtemp(join(tmpdir(), 'hearth-bench-backup-'))
  const rows = []
  try {
    const server = await bootServer({ wasm: join(dist, 'hearth.wasm'), storageOptions: { persistence: 'file', dir: join(dir, 'server') } })
    const client = matrixClient()
    await client.register('bench', 'bench-password')
    const { room_id: roomId } = await client.createRoom({ name: 'bench' })
    let sent = 0
    for (const events of sizes) {
      while (sent < events && Date.now() < deadline - RESERVE_MS) {
        await client.send(roomId, `t${sent}`, `message ${sent} ${'x'.repeat(100)}`)
        sent++
      }
      if (sent < events) {
        rows.push(errorRow(`backup.export.${events}`, `the time limit came first: ${sent} of ${events} events sent`))
        break
      }
      rows.push(...await measure(server, events, join(dir, `${events}`)))
    }
    return rows
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

async function measure (server, events, dir) {
  const file = `${dir}.hearth-backup`
  // The export as the worker runs it: the snapshot copy, then the file streamed out.
  const t0 = performance.now()
  const contents = await snapshotContents(server.storage, server.blobs.blobs)
  const pause = performance.now() - t0
  await writeBackupFile(file, { passphrase: PASSPHRASE, contents })
  const exportMs = performance.now() - t0
  const fileBytes = (await stat(file)).size

  const t1 = performance.now()
  const read = await readBackup({ passphrase: PASSPHRASE, source: createReadStream(file), scrypt: nodeScrypt })
  await restoreSnapshot({ persistence: 'file', dir }, read.database)
  const importMs = performance.now() - t1
  const db = `${events} messages, ${(contents.database.length / 1e6).toFixed(1)} MB database`
  return [
    valueRow(`backup.export.${events}`, 'ms', exportMs, { note: `${db}; scrypt N=2^17 r=8 included` }),
    valueRow(`backup.export.pause.${events}`, 'ms', pause, { note: `${db}: the snapshot copy, the only time the server is held` }),
    valueRow(`backup.import.${events}`, 'ms', importMs, { note: `${db}: scrypt, verify and decrypt, write the snapshot (fsync)` }),
    valueRow(`backup.file-bytes.${events}`, 'bytes', fileBytes, { note: db })
  ]
}
