/**
 * Many relays, none essential (issue 17), driven through the client API as
 * people would: three relays linked with RELAY_PEERS, three headless peers
 * each given a different one. Invites, joins and messages go in every
 * direction; a relay SIGKILLed leaves its peers reachable within 10 s; a
 * message waiting in a mailbox on it is still delivered, its sender gone.
 * Run with the JavaScript relays, and with a mix: Go relays (go/relay) linked
 * with a JavaScript one, peers on each kind.
 * Needs `npm run build` (dist/hearth.wasm).
 */
import '../p2p/node-env.js'
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { killRelay, spawnLinkedRelays } from '../relay/testing.js'
import { delivery, privateRoom, register, say, spawnPeer, waitForMessage } from './harness.js'

async function eventually (what, fn, timeoutMs) {
  const deadline = Date.now() + timeoutMs
  let last
  while (Date.now() < deadline) {
    last = await fn()
    if (last.done) return last.value
    await new Promise(resolve => setTimeout(resolve, 200))
  }
  throw new Error(`${what}: last saw ${JSON.stringify(last?.value)}`)
}

for (const implementations of [['js', 'js', 'js'], ['go', 'js', 'go']]) {
  test(`three linked relays (${implementations.join(', ')}), a peer on each: every direction, a relay SIGKILLed, mail on it still delivered`, { timeout: 420_000 }, (t) => linkedRelays(t, implementations))
}

async function linkedRelays (t, implementations) {
  const dir = await mkdtemp(join(tmpdir(), 'hearth-linked-peers-'))
  const peers = {}
  let relays = []
  // One hook, in order: peers and relays stop writing into dir before it goes.
  t.after(async () => {
    await Promise.allSettled(Object.values(peers).map(p => p.stop()))
    await Promise.allSettled(relays.map(killRelay))
    await rm(dir, { recursive: true, force: true })
  })
  relays = await spawnLinkedRelays(dir, implementations)
  const [r1, r2, r3] = relays

  const start = async (name, relay) => {
    peers[name] = await spawnPeer(join(dir, name), ['--relay', relay.addr])
    return peers[name]
  }
  const a = await start('a', r1)
  const b = await start('b', r2)
  const c = await start('c', r3)
  // each learns another relay and holds two reservations
  for (const peer of [a, b, c]) {
    await eventually('a peer on two relays', async () => {
      const online = new Set([...peer.output().matchAll(/peer: relay (\S+) online/g)].map(m => m[1]))
      return { done: online.size >= 2, value: [...online] }
    }, 20_000)
  }

  const alice = { peer: a, user: '@alice:' + a.serverName, token: await register(a, 'alice') }
  const bob = { peer: b, user: '@bob:' + b.serverName, token: await register(b, 'bob') }
  const carol = { peer: c, user: '@carol:' + c.serverName, token: await register(c, 'carol') }
  // invites in every direction: a→b, b→c, c→a; messages both ways in each room
  const rooms = []
  for (const [owner, guest] of [[alice, bob], [bob, carol], [carol, alice]]) {
    const roomId = await privateRoom(owner, [guest])
    for (const [from, to] of [[owner, guest], [guest, owner]]) {
      const text = `${from.user} to ${to.user}`
      await say(from.peer, from.token, roomId, text)
      await waitForMessage(to.peer, to.token, roomId, text)
    }
    rooms.push(roomId)
  }
  const [ab, , ca] = rooms

  // Carol away (SIGTERM: she exits within 5 s, on her given relay and a learned
  // one); Alice's message for her waits in Carol's mailboxes on both
  const code = await Promise.race([peers.c.stop(), new Promise(resolve => setTimeout(resolve, 5000, 'still running'))])
  assert.equal(code, 0, `Carol did not exit within 5 s of SIGTERM:\n${c.output()}`)
  delete peers.c
  const waitingId = await say(alice.peer, alice.token, ca, 'while you were away')
  await eventually('the message to wait in Carol\'s mailbox', async () => {
    const state = await delivery(alice.peer, alice.token, ca, waitingId)
    return { done: state.state === 'mailbox', value: state }
  }, 30_000)

  // r3, the relay Carol was given (and perhaps one Alice or Bob learned), dies:
  // Alice and Bob reach each other within 10 s, through whichever relays remain
  await killRelay(r3)
  const killedAt = Date.now()
  await say(bob.peer, bob.token, ab, 'after the kill')
  await waitForMessage(alice.peer, alice.token, ab, 'after the kill', 10_000)
  await say(alice.peer, alice.token, ab, 'back at you')
  await waitForMessage(bob.peer, bob.token, ab, 'back at you', Math.max(1, 10_000 - (Date.now() - killedAt)))
  t.diagnostic(`Alice and Bob exchanged messages both ways ${Date.now() - killedAt} ms after r3 died`)

  // Alice goes away too
  await peers.a.stop()
  delete peers.a

  // Carol comes back given r2 (her relay is dead) and gets the mail that
  // waited there, Alice away: only a mailbox can have it
  carol.peer = await start('c', r2)
  const seen = await waitForMessage(carol.peer, carol.token, ca, 'while you were away', 30_000)
  assert.equal(seen.filter(m => m === 'while you were away').length, 1, 'delivered once')
  assert.ok(!r1.output().includes('Error') && !r2.output().includes('Error'), `relay errors:\n${r1.output()}\n${r2.output()}`)
}
