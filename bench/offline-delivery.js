/**
 * offline: how soon a server that was away has what it missed once it starts,
 * with headless peers (the real wasm) on a real relay on loopback.
 *
 *   offline.mailbox.recipient-start-to-sync  ms from the recipient's process
 *       start to the message in its /sync, when the sender went away after
 *       sending: the message waited in the recipient's mailbox on the relay
 *   offline.mailbox.send-to-deposit  ms from the send to the sender's delivery
 *       state saying "mailbox" (direct attempt failed, sealed, deposited)
 *   offline.catchup.recipient-start-to-sync  the same start-to-/sync time when
 *       the relay keeps no mail: the sender is away and a third member, online,
 *       hands the recipient what it missed
 *
 * A process start includes booting the wasm (about a second): compare with
 * startup rows, not with send latency.
 */
import '../js/p2p/node-env.js'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createRelay } from '../js/relay/index.js'
import { delivery, privateRoom, register, say, spawnPeer, waitForMessage } from '../js/peer/harness.js'
import { errorRow, latencyRow } from './rows.js'

const quiet = { log () {}, info () {}, warn () {}, debug () {} }

export async function offline ({ quick, deadline, log }) {
  const samples = quick ? 1 : 3
  const rows = []
  for (const path of ['mailbox', 'catchup']) {
    try {
      rows.push(...await measure(path, { samples, deadline, log }))
    } catch (err) {
      rows.push(errorRow(`offline.${path}`, err))
    }
  }
  return rows
}

async function measure (path, { samples, deadline, log }) {
  const dir = await mkdtemp(join(tmpdir(), 'hearth-bench-offline-'))
  const relay = createRelay({ port: 0, logger: quiet, ...(path === 'mailbox' && { mailbox: { dir: join(dir, 'mailbox') } }) })
  await relay.start()
  const args = ['--relay', relay.multiaddrs()[0]]
  const names = path === 'mailbox' ? ['a', 'b'] : ['a', 'b', 'c']
  const peers = {}
  const start = async (name) => { peers[name] = await spawnPeer(join(dir, name), args, { timeoutMs: 30000 }) }
  const stop = async (name) => { await peers[name].stop(); delete peers[name] }
  try {
    for (const name of names) await start(name)
    const people = {}
    for (const name of names) people[name] = { peer: peers[name], token: await register(peers[name], `u${name}`), user: `@u${name}:${peers[name].serverName}` }
    const roomId = await privateRoom(people.a, names.slice(1).map((n) => people[n]))
    await say(peers.a, people.a.token, roomId, 'warm-up')
    await waitForMessage(peers.b, people.b.token, roomId, 'warm-up')

    const startToSync = []
    const sendToDeposit = []
    for (let i = 0; i < samples && Date.now() < deadline - 30000; i++) {
      await stop('b')
      const text = `missed ${i}`
      const sentAt = performance.now()
      const eventId = await say(peers.a, people.a.token, roomId, text)
      if (path === 'mailbox') {
        for (;;) {
          const state = await delivery(peers.a, people.a.token, roomId, eventId)
          if (state.state === 'mailbox') break
          if (Date.now() > deadline) throw new Error('the message never reached the mailbox')
          await new Promise((resolve) => setTimeout(resolve, 20))
        }
        sendToDeposit.push(performance.now() - sentAt)
      } else {
        await waitForMessage(peers.c, people.c.token, roomId, text)
      }
      await stop('a')
      const began = performance.now()
      await start('b')
      await waitForMessage(peers.b, people.b.token, roomId, text, 60000)
      startToSync.push(performance.now() - began)
      log?.(`offline.${path}: sample ${i} ${Math.round(startToSync.at(-1))} ms`)
      await start('a')
    }
    const rows = [latencyRow(`offline.${path}.recipient-start-to-sync`, startToSync, { note: 'recipient process start (wasm boot included) → message in /sync' })]
    if (path === 'mailbox') rows.push(latencyRow('offline.mailbox.send-to-deposit', sendToDeposit, { note: 'send → sender sees "in mailbox"' }))
    return rows
  } finally {
    await Promise.all(Object.keys(peers).map(stop))
    await relay.stop()
    await rm(dir, { recursive: true, force: true })
  }
}
