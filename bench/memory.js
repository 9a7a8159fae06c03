/**
 * memory: what the server holds after 10k events. Boots the real server under
 * Node with in-memory storage (the database lives in the JS heap, as sql.js
 * does in a worker), sends 10,000 messages into one room through hearthServe,
 * collects garbage in JS, and reports:
 *
 *   memory.wasm-linear   the Go instance's memory.buffer.byteLength (it never shrinks)
 *   memory.js-heap       V8 heap used (sql.js keeps its database in its own wasm
 *                        memory, which only memory.rss counts)
 *   memory.rss           the whole process
 *   memory.send          per-message latency while filling, and the rate
 *
 * If the deadline comes first, it reports after the messages sent so far (samples says how many).
 */
import { join } from 'node:path'
import { bootServer, matrixClient } from './node-server.js'
import { latencyRow, valueRow } from './rows.js'

export async function memory ({ dist, quick, deadline }) {
  const events = quick ? 2_000 : 10_000
  const { memory: wasmMemory, storage } = await bootServer({ wasm: join(dist, 'hearth.wasm') })
  const before = { wasm: wasmMemory.buffer.byteLength, heap: heapUsed() }
  const client = matrixClient()
  await client.register('bench', 'bench password')
  const { room_id: roomId } = await client.createRoom({ name: 'memory' })
  const times = []
  const began = performance.now()
  for (let i = 0; i < events && Date.now() < deadline; i++) {
    const t0 = performance.now()
    await client.send(roomId, `m${i}`, `message ${i} ` + 'x'.repeat(64))
    times.push(performance.now() - t0)
  }
  const elapsed = (performance.now() - began) / 1000
  const n = times.length
  const note = `after ${n} events (in-memory storage), real wasm under Node`
  const stats = storage.stats()
  const rows = [
    valueRow('memory.wasm-linear', 'bytes', wasmMemory.buffer.byteLength, { samples: n, note }),
    valueRow('memory.wasm-linear.at-start', 'bytes', before.wasm, { note: 'right after start-up' }),
    valueRow('memory.js-heap', 'bytes', heapUsed(), { samples: n, note: note + ', after gc()' }),
    valueRow('memory.js-heap.at-start', 'bytes', before.heap, { note: 'right after start-up, after gc()' }),
    valueRow('memory.rss', 'bytes', process.memoryUsage().rss, { samples: n, note: 'whole process: Go, sql.js (its own wasm memory) and V8' }),
    latencyRow('memory.send', times, { note: 'PUT /send through hearthServe while filling' }),
    valueRow('memory.send.rate', 'events/s', n / elapsed, { samples: n })
  ]
  if (stats.openStatements !== undefined) {
    rows.push(valueRow('memory.sqljs-open-statements', 'statements', stats.openStatements, { samples: n }))
  }
  return rows
}

function heapUsed () {
  globalThis.gc?.()
  return process.memoryUsage().heapUsed
}
