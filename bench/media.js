/**
 * media: pictures do not weigh on the database. A headless peer (the real
 * wasm, file storage, media files under <data>/media) is measured before and
 * after 1,000 uploads of 1 MiB each (100 with --quick; fewer if the deadline
 * comes first: samples says how many) through its HTTP client API:
 *
 *   media.db-bytes.before / .after         the database's files (snapshot, chunks, journal)
 *   media.storage-open.before / .after     createStorage on that directory (sql.js open + replay)
 *   media.peer-start.before / .after       spawn → client API answering (Go start-up, incl. the
 *                                          media sweep that lists every blob)
 *   media.blob-bytes                       what <data>/media holds after
 *   media.upload                           one 1 MiB upload, acknowledged (durable)
 *   media.wasm-linear.before / .after      Go's memory in a server booted in this process,
 *                                          around 100 more uploads through hearthServe: a
 *                                          body is held only while it is being stored
 *   media.{peer-start,storage-open,wasm-linear}.ratio   after / before (p50s)
 */
import '../js/p2p/node-env.js'
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { register, spawnPeer } from '../js/peer/harness.js'
import { createStorage } from '../js/storage/index.js'
import { bootServer, matrixClient } from './node-server.js'
import { latencyRow, valueRow } from './rows.js'

const IMAGE_BYTES = 1 << 20
const ROUNDS = 3

export async function media ({ dist, quick, deadline }) {
  const images = quick ? 100 : 1000
  const dir = await mkdtemp(join(tmpdir(), 'hearth-bench-media-'))
  try {
    let peer = await spawnPeer(dir)
    await register(peer, 'before')
    await peer.stop()
    const before = await measure(dir)

    peer = await spawnPeer(dir)
    const token = await register(peer, 'photographer')
    const image = new Uint8Array(IMAGE_BYTES)
    const times = []
    // Leave time for the measurements after.
    for (let i = 0; i < images && Date.now() < deadline - 60_000; i++) {
      image.fill(i % 251, 0, 64) // each upload is a different file
      const t0 = performance.now()
      const res = await fetch(`${peer.url}/_matrix/media/v3/upload?filename=${i}.jpg`, {
        method: 'POST', body: image, headers: { authorization: `Bearer ${token}`, 'content-type': 'image/jpeg' }
      })
      await res.arrayBuffer()
      if (res.status !== 200) throw new Error(`upload ${i}: HTTP ${res.status}`)
      times.push(performance.now() - t0)
    }
    await peer.stop()
    const after = await measure(dir)
    const linear = await wasmMemoryAroundUploads(join(dist, 'hearth.wasm'), join(dir, 'in-process'))
    const n = times.length
    const note = `${n} images of 1 MiB, headless peer (real wasm, file storage)`
    const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
    const ratio = (name, after, before, what) => valueRow(name, 'ratio', after / before, {
      samples: n, note: `${what} after ${n} images / before, same run (issue 18: unchanged)`
    })
    return [
      ratio('media.peer-start.ratio', median(after.peerStart), median(before.peerStart), 'peer start p50'),
      ratio('media.storage-open.ratio', median(after.storageOpen), median(before.storageOpen), 'storage open p50'),
      ratio('media.wasm-linear.ratio', linear.after, linear.before, "Go's linear memory"),
      valueRow('media.db-bytes.before', 'bytes', before.dbBytes, { note: 'one account, no media' }),
      valueRow('media.db-bytes.after', 'bytes', after.dbBytes, { samples: n, note }),
      latencyRow('media.storage-open.before', before.storageOpen, { note: 'createStorage on the data directory' }),
      latencyRow('media.storage-open.after', after.storageOpen, { note }),
      latencyRow('media.peer-start.before', before.peerStart, { note: 'spawn → client API answering' }),
      latencyRow('media.peer-start.after', after.peerStart, { note }),
      valueRow('media.blob-bytes', 'bytes', await bytesUnder(join(dir, 'media')), { samples: n, note }),
      latencyRow('media.upload', times, { note: 'POST /upload of 1 MiB over HTTP until acknowledged (fsynced file, then row)' }),
      valueRow('media.wasm-linear.before', 'bytes', linear.before, { note: 'after one 1 MiB upload (the first grows the heap)' }),
      valueRow('media.wasm-linear.after', 'bytes', linear.after, { samples: linear.uploads, note: `after ${linear.uploads} more uploads of 1 MiB` })
    ]
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

/** Go's linear memory (it never shrinks) after one upload and after 100 more. */
async function wasmMemoryAroundUploads (wasm, dir) {
  const { memory } = await bootServer({
    wasm, storageOptions: { persistence: 'file', dir }, blobOptions: { persistence: 'file', dir: join(dir, 'media') }
  })
  const client = matrixClient()
  await client.register('inprocess', 'bench password')
  const image = new Uint8Array(IMAGE_BYTES)
  const upload = async (i) => {
    image.fill(i % 251, 0, 64)
    const res = await client.request('POST', '/_matrix/media/v3/upload', undefined, image)
    if (res.status !== 200) throw new Error(`in-process upload ${i}: HTTP ${res.status}`)
  }
  await upload(0)
  const before = memory.buffer.byteLength
  const uploads = 100
  for (let i = 1; i <= uploads; i++) await upload(i)
  return { before, after: memory.buffer.byteLength, uploads }
}

async function measure (dir) {
  const storageOpen = []
  for (let i = 0; i < ROUNDS; i++) {
    const t0 = performance.now()
    const opened = await createStorage({ persistence: 'file', dir })
    storageOpen.push(performance.now() - t0)
    await opened.close()
  }
  const peerStart = []
  for (let i = 0; i < ROUNDS; i++) {
    const t0 = performance.now()
    const peer = await spawnPeer(dir)
    peerStart.push(performance.now() - t0)
    await peer.stop()
  }
  return { storageOpen, peerStart, dbBytes: await bytesUnder(dir, ['media', 'LOCK']) }
}

/** Bytes of the files under dir, recursively, leaving out the names in skip. */
async function bytesUnder (dir, skip = []) {
  let total = 0
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (skip.includes(entry.name)) continue
    const path = join(dir, entry.name)
    total += entry.isDirectory() ? await bytesUnder(path) : (await stat(path)).size
  }
  return total
}
