/**
 * clientapi.wasm: where a send's time goes in the wasm server — Go, the
 * storage bridge (sql.js and the JS around it) or the durable commit. The real
 * dist/hearth.wasm under Node (bench/node-server.js) with the file journal
 * (fdatasync per commit, Node's stand-in for IndexedDB), driven through
 * callServe as the service worker drives it. Every hearthStorage call is timed
 * on the JS side of the bridge:
 *
 *   clientapi.wasm.send                    PUT /send answered (p50/p99)
 *   clientapi.wasm.send.storage-calls      bridge crossings into hearthStorage per send
 *   clientapi.wasm.send.storage-ms         time inside those calls per send (sql.js
 *                                          statements and their encoding), commit excluded
 *   clientapi.wasm.send.recompiles         statement runs per send that SQLite compiled again first
 *   clientapi.wasm.send.commit-ms          commit per send: journal append + fdatasync
 *   clientapi.wasm.send.go-ms              the rest: Go (event building, signing, auth, JSON)
 *                                          and the serve crossing
 *   clientapi.wasm.sync                    an incremental /sync after one new message (the
 *                                          answer a waiting /sync gives it; p50/p99)
 *   clientapi.wasm.sync.storage-calls      bridge crossings into hearthStorage per such /sync
 *   clientapi.wasm.sync.wait-storage-calls the same for a long-poll from the newest token
 *                                          before news wakes it: what a waiting /sync costs
 *   clientapi.wasm.sync.after-receipt      the incremental /sync after a message and the
 *                                          user's read receipt of it, the user in 20 rooms
 *   clientapi.wasm.sync.after-receipt.storage-calls  its crossings into hearthStorage
 *   clientapi.wasm.storage-call            one prepared one-row read through database/sql
 *                                          and hearthStorage (go/storage/sqljs
 *                                          BenchmarkReadThroughBridge, wasm under Node)
 *   clientapi.wasm.event-build             gomatrixserverlib's share of a send: building,
 *                                          hashing and signing a message and its event ID
 *                                          (go/room BenchmarkBuildMessage, wasm under Node);
 *                                          the same natively is BenchmarkBuildMessage's own output
 */
import { execFile } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { bootServer, matrixClient } from './node-server.js'
import { errorRow, latencyRow, valueRow } from './rows.js'

/** The rooms of the account whose /syncs after a receipt are measured (clientapi.wasm.sync.after-receipt). */
const RECEIPT_ROOMS = 20

export async function wasmSend ({ root, dist, quick, deadline }) {
  const rows = await sendAndSyncRows({ dist, quick, deadline: deadline - 80_000 })
  const goBench = (options) => goBenchRow({ root, deadline, ...options })
  const buildMessage = { pkg: './go/room/', bench: 'BenchmarkBuildMessage', count: quick ? 1_000 : 3_000 }
  return [
    ...rows,
    await goBench({
      name: 'clientapi.wasm.storage-call',
      pkg: './go/storage/sqljs/',
      bench: 'BenchmarkReadThroughBridge',
      count: quick ? 5_000 : 20_000,
      note: 'one prepared read of one row through database/sql and hearthStorage (sql.js under Node), Go compiled to wasm: go/storage/sqljs BenchmarkReadThroughBridge'
    }),
    await goBench({
      ...buildMessage,
      name: 'clientapi.wasm.event-build',
      note: "gomatrixserverlib's share of a send (build: content hash, signature, canonical JSON; then the event ID), Go compiled to wasm under Node, after 500 untimed: go/room BenchmarkBuildMessage"
    }),
    await goBench({ ...buildMessage, name: 'clientapi.wasm.event-build.native', native: true, note: 'the same, compiled natively: how much slower wasm makes it' })
  ]
}

/**
 * Runs one Go benchmark compiled to wasm under Node (or natively: native)
 * and answers a row of its µs per operation. Building the test binary takes
 * most of the time.
 */
async function goBenchRow ({ root, deadline, name, pkg, bench, count, native = false, note }) {
  const wasm = native ? [] : [`-exec=node ${join(root, 'js', 'testing', 'go_wasm_exec.js')}`]
  const env = native ? process.env : { ...process.env, GOOS: 'js', GOARCH: 'wasm' }
  try {
    const { stdout } = await promisify(execFile)('go', [
      'test', '-run', '^$', '-bench', `^${bench}$`, '-benchtime', `${count}x`, ...wasm, pkg
    ], { cwd: root, env, timeout: Math.max(10_000, deadline - Date.now() - 1_000) })
    const ns = Number(new RegExp(`${bench}\\S*\\s+\\d+\\s+([\\d.]+) ns/op`).exec(stdout)?.[1])
    if (!Number.isFinite(ns)) throw new Error(`no result in: ${stdout.slice(-300)}`)
    return valueRow(name, 'µs', ns / 1000, { samples: count, note })
  } catch (err) {
    return errorRow(name, err)
  }
}

async function sendAndSyncRows ({ dist, quick, deadline }) {
  const dir = await mkdtemp(join(tmpdir(), 'hearth-bench-wasm-send-'))
  try {
    const timing = { calls: 0, storageMs: 0, commitMs: 0 }
    const server = await bootServer({
      wasm: join(dist, 'hearth.wasm'),
      storageOptions: { persistence: 'file', dir, name: 'bench' },
      wrapStorage: (storage) => timed(storage, timing)
    })
    const client = matrixClient()
    await client.register('bench', 'bench password')
    const { room_id: roomId } = await client.createRoom({ name: 'bench' })
    const messages = quick ? 100 : 400
    const sendMs = []
    let counted = 0
    for (let i = 0; i < messages && Date.now() < deadline - 2_000; i++) {
      // The first sends warm the caches (statements, auth events, JIT): not counted.
      if (i === 20) Object.assign(timing, { calls: 0, storageMs: 0, commitMs: 0, recompiled: server.storage.storage.stats().statementsRecompiled })
      const began = performance.now()
      await client.send(roomId, `t${i}`, `message ${i}`)
      const took = performance.now() - began
      if (i >= 20) {
        sendMs.push(took)
        counted++
      }
    }
    const recompiled = server.storage.storage.stats().statementsRecompiled - timing.recompiled
    const per = (x) => x / Math.max(1, counted)
    const total = sendMs.reduce((a, b) => a + b, 0)
    const note = `${counted} sends after 20 to warm up; file journal in a temporary directory`
    const sendRows = [
      latencyRow('clientapi.wasm.send', sendMs, { note: 'PUT /send through callServe, real wasm under Node, file journal' }),
      valueRow('clientapi.wasm.send.storage-calls', 'calls', per(timing.calls), { samples: counted, note }),
      valueRow('clientapi.wasm.send.recompiles', 'statements', per(recompiled), { samples: counted, note: 'statement runs SQLite compiled again first (js/storage statementsRecompiled); ' + note }),
      valueRow('clientapi.wasm.send.storage-ms', 'ms', per(timing.storageMs), { samples: counted, note: 'inside hearthStorage calls, commit excluded; ' + note }),
      valueRow('clientapi.wasm.send.commit-ms', 'ms', per(timing.commitMs), { samples: counted, note: 'commit: journal append + fdatasync; ' + note }),
      valueRow('clientapi.wasm.send.go-ms', 'ms', per(total - timing.storageMs - timing.commitMs), { samples: counted, note: 'the rest: Go and the serve crossing (mean); ' + note })
    ]
    // Then what a /sync woken by a message builds: the same incremental sync,
    // asked once the message is in (timeout 0), its crossings counted alone.
    const syncMs = []
    const syncCalls = []
    let since = (await client.ok('GET', '/_matrix/client/v3/sync?timeout=0')).next_batch
    for (let i = 0; i < (quick ? 30 : 100) && Date.now() < deadline - 1_000; i++) {
      await client.send(roomId, `s${i}`, `message ${i}`)
      timing.calls = 0
      const began = performance.now()
      since = (await client.ok('GET', `/_matrix/client/v3/sync?timeout=0&since=${encodeURIComponent(since)}`)).next_batch
      syncMs.push(performance.now() - began)
      syncCalls.push(timing.calls)
    }
    const syncNote = `${syncMs.length} incremental /syncs, each after one message in the one room`
    // A long-poll from the newest token, until news: what waiting costs.
    const waitCalls = []
    for (let i = 0; i < 10 && Date.now() < deadline - 500; i++) {
      timing.calls = 0
      const polled = client.ok('GET', `/_matrix/client/v3/sync?timeout=10000&since=${encodeURIComponent(since)}`)
      await new Promise((resolve) => setTimeout(resolve, 20))
      waitCalls.push(timing.calls)
      await client.send(roomId, `w${i}`, `message ${i}`)
      since = (await polled).next_batch
    }
    // The same after the user's read receipt too, in an account of 20 rooms:
    // a client sends one for each message it shows, and receipts are read
    // for every joined room.
    for (let i = 1; i < RECEIPT_ROOMS; i++) await client.createRoom({ name: `quiet ${i}` })
    since = (await client.ok('GET', `/_matrix/client/v3/sync?timeout=0&since=${encodeURIComponent(since)}`)).next_batch
    const receiptMs = []
    const receiptCalls = []
    for (let i = 0; i < (quick ? 30 : 100) && Date.now() < deadline - 500; i++) {
      const { event_id: eventId } = await client.send(roomId, `r${i}`, `message ${i}`)
      await client.ok('POST', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/receipt/m.read/${encodeURIComponent(eventId)}`, {})
      timing.calls = 0
      const began = performance.now()
      since = (await client.ok('GET', `/_matrix/client/v3/sync?timeout=0&since=${encodeURIComponent(since)}`)).next_batch
      receiptMs.push(performance.now() - began)
      receiptCalls.push(timing.calls)
    }
    const receiptNote = `${receiptMs.length} incremental /syncs, each after one message and the user's read receipt of it, the user in ${RECEIPT_ROOMS} rooms`
    return [
      ...sendRows,
      latencyRow('clientapi.wasm.sync', syncMs, { note: syncNote }),
      latencyRow('clientapi.wasm.sync.after-receipt', receiptMs, { note: receiptNote }),
      valueRow('clientapi.wasm.sync.after-receipt.storage-calls', 'calls', receiptCalls.reduce((a, b) => a + b, 0) / Math.max(1, receiptCalls.length), { samples: receiptCalls.length, note: receiptNote }),
      valueRow('clientapi.wasm.sync.storage-calls', 'calls', syncCalls.reduce((a, b) => a + b, 0) / Math.max(1, syncCalls.length), { samples: syncCalls.length, note: syncNote }),
      valueRow('clientapi.wasm.sync.wait-storage-calls', 'calls', waitCalls.reduce((a, b) => a + b, 0) / Math.max(1, waitCalls.length), {
        samples: waitCalls.length, note: 'bridge crossings into hearthStorage by a /sync long-poll from the newest token in its first 20 ms, before news wakes it'
      })
    ]
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

/** storage with every method timed into timing; commit's promise is timed to its settling. */
function timed (storage, timing) {
  const out = {}
  for (const [name, value] of Object.entries(storage)) {
    if (typeof value !== 'function') {
      out[name] = value
      continue
    }
    out[name] = name === 'commit'
      ? async (...args) => {
        timing.calls++
        const began = performance.now()
        try {
          return await value(...args)
        } finally {
          timing.commitMs += performance.now() - began
        }
      }
      : (...args) => {
          timing.calls++
          const began = performance.now()
          try {
            return value(...args)
          } finally {
            timing.storageMs += performance.now() - began
          }
        }
  }
  return Object.freeze(out)
}
