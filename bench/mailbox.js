/**
 * relay.mailbox: the relay's mailbox (js/relay/mailbox) under load, the relay
 * in its own process (bench/mailbox-relay.js), peers in this one, 1 KiB
 * payloads, loopback:
 *
 *   relay.mailbox.deposit.messages-per-s     one sender, 32 deposits in flight, each
 *                                            answered once committed (fsync'd)
 *   relay.mailbox.deposit.latency            one deposit at a time: send → durable ack (p50/p99)
 *   relay.mailbox.deposit.relay-cpu-us       relay CPU (user + system) per deposited message
 *   relay.mailbox.drain.messages-per-s       the recipient starts → all of it handed over and acked
 *   relay.mailbox.drain.relay-cpu-us         relay CPU per drained message (push, ack, delete, notice)
 *   relay.mailbox.disk-bytes-per-message     the store's files (database + WAL) / messages held
 *   relay.mailbox.wal-bytes                  of which the WAL: SQLite checkpoints it at ~4 MiB
 *                                            (1,000 pages) and reuses the file, so it does not grow
 *                                            with the store
 *
 * The relay's per-sender rate and per-recipient quota are raised for the run:
 * this measures the store and the protocol, not the limits.
 */
import { fork } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { latencyRow, valueRow } from './rows.js'

const PAYLOAD_BYTES = 1024
const IN_FLIGHT = 32

export async function relayMailbox ({ quick, deadline, emit }) {
  await import('../js/p2p/node-env.js') // Node polyfills for libp2p: only in this benchmark's process
  const { createP2P } = await import('../js/p2p/index.js')
  const { generateKeyPair } = await import('@libp2p/crypto/keys')
  const count = quick ? 500 : 3000
  const dir = await mkdtemp(join(tmpdir(), 'hearth-bench-mailbox-'))
  const relay = await startRelay({ dir, maxMailsPerRecipient: 1e6, maxBytesPerRecipient: 1e10, depositsPerSecond: 1e6, depositBurst: 1e6 })
  const peers = []
  const peer = async (key, handlers = {}) => {
    const p = createP2P({ privateKey: key, relayAddrs: [relay.addr], serve: async () => ({ status: 404, headers: [], body: new Uint8Array(0) }), ...handlers })
    peers.push(p)
    await p.start()
    await until(() => p.relays()[0].mailbox && p.relays()[0].online, 10_000)
    return p
  }
  try {
    const bobKey = (await generateKeyPair('Ed25519')).raw
    const bob = await peer(bobKey)
    await bob.stop()
    const alice = await peer((await generateKeyPair('Ed25519')).raw)
    const payload = randomBytes(PAYLOAD_BYTES)

    const latencies = []
    for (let i = 0; i < (quick ? 50 : 200) && Date.now() < deadline; i++) {
      const began = performance.now()
      await alice.deposit(bob.peerId, `latency${i}`, payload)
      latencies.push(performance.now() - began)
    }
    emit(latencyRow('relay.mailbox.deposit.latency', latencies, { note: `${PAYLOAD_BYTES}-byte payload, send → answer after the COMMIT` }))

    let next = 0
    let cpu = await relay.usage()
    let began = performance.now()
    await Promise.all(Array.from({ length: IN_FLIGHT }, async () => {
      while (next < count && Date.now() < deadline) await alice.deposit(bob.peerId, `txn${next++}`, payload)
    }))
    let seconds = (performance.now() - began) / 1000
    let after = await relay.usage()
    const deposited = next
    emit(valueRow('relay.mailbox.deposit.messages-per-s', 'messages/s', deposited / seconds, { samples: deposited, note: `one sender, ${IN_FLIGHT} deposits in flight, ${PAYLOAD_BYTES}-byte payloads, each acked after its group commit` }))
    emit(valueRow('relay.mailbox.deposit.relay-cpu-us', 'µs/message', cpuMicros(cpu, after) / deposited, { samples: deposited, note: 'relay process CPU (user + system) per deposit' }))
    const held = after.stats.mails
    const files = await fileBytes(dir)
    const total = Object.values(files).reduce((a, b) => a + b, 0)
    emit(valueRow('relay.mailbox.disk-bytes-per-message', 'bytes', total / held, { samples: held, note: `mailbox.sqlite + WAL / mails held, ${PAYLOAD_BYTES}-byte payloads` }))
    emit(valueRow('relay.mailbox.wal-bytes', 'bytes', files['mailbox.sqlite-wal'] ?? 0, { samples: 1, note: `WAL file size with ${held} mails held (bounded by the checkpoint, not by the store)` }))

    let received = 0
    cpu = after
    began = performance.now()
    await peer(bobKey, { onMail: async () => { received++ } })
    await until(() => received >= held || Date.now() > deadline, deadline - Date.now())
    await until(async () => (await relay.usage()).stats.mails === 0 || Date.now() > deadline, 10_000)
    seconds = (performance.now() - began) / 1000
    after = await relay.usage()
    const note = `the recipient's start (connect, reserve, open its mailbox) → ${held} mails handed over and acked`
    emit(valueRow('relay.mailbox.drain.messages-per-s', 'messages/s', received / seconds, { samples: received, note }))
    emit(valueRow('relay.mailbox.drain.relay-cpu-us', 'µs/message', cpuMicros(cpu, after) / received, { samples: received, note: 'relay process CPU per drained mail: push, ack, delete, delivered notice' }))
    return []
  } finally {
    await Promise.allSettled(peers.map(p => p.stop()))
    await relay.stop()
    await rm(dir, { recursive: true, force: true })
  }
}

/** The benchmark's relay in a child process; usage() asks it for its CPU time and mailbox counts. */
async function startRelay (mailbox) {
  const child = fork(fileURLToPath(new URL('./mailbox-relay.js', import.meta.url)), [JSON.stringify(mailbox)], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] })
  const { addr } = await new Promise((resolve, reject) => {
    child.once('message', resolve)
    child.once('exit', code => reject(new Error(`the relay exited (${code})`)))
  })
  return {
    addr,
    usage: () => new Promise(resolve => {
      child.once('message', resolve)
      child.send('usage')
    }),
    stop: async () => {
      const exited = new Promise(resolve => child.once('exit', resolve))
      child.disconnect()
      await Promise.race([exited, new Promise(resolve => setTimeout(resolve, 3000))])
      child.kill('SIGKILL')
    }
  }
}

function cpuMicros (before, after) {
  return (after.cpu.user - before.cpu.user) + (after.cpu.system - before.cpu.system)
}

/** @returns {Promise<Record<string, number>>} file name → bytes */
async function fileBytes (dir) {
  const sizes = {}
  for (const name of await readdir(dir)) sizes[name] = (await stat(join(dir, name))).size
  return sizes
}

async function until (predicate, ms) {
  const end = Date.now() + ms
  while (!(await predicate())) {
    if (Date.now() > end) throw new Error('timed out')
    await new Promise(resolve => setTimeout(resolve, 10))
  }
}
