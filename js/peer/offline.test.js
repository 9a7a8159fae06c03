/**
 * Offline delivery between headless peers, driven through the client API as
 * a user would: messages reach a server that was away when they were sent,
 * even when their sender has gone away too (the recipient's mailbox on the
 * relay), or from another member of the room (catch-up). Needs `npm run build`.
 */
import '../p2p/node-env.js'
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createRelay } from '../relay/index.js'
import { delivery, ok, privateRoom, register, roomPath, say, spawnPeer, tempRoot, waitForMessage } from './harness.js'

/** How long a returning recipient may take to show a message it missed. */
const ARRIVAL_TIMEOUT = 30000
const quiet = { log () {}, info () {}, warn () {}, debug () {} }

/**
 * A relay (with a mailbox store, unless mailbox is false) and the named
 * peers, each with its own data directory. net.start(name) (re)starts one;
 * everything is stopped and removed after the test.
 */
async function network (t, names, { mailbox = true } = {}) {
  const { root: dir, stopLater } = await tempRoot(t, 'hearth-offline-')
  const mailboxDir = join(dir, 'mailbox')
  const relay = createRelay({ port: 0, logger: quiet, ...(mailbox && { mailbox: { dir: mailboxDir } }) })
  await relay.start()
  stopLater(() => relay.stop())
  const relayArgs = ['--relay', relay.multiaddrs()[0]]
  const net = { relay, mailboxDir, peers: {} }
  net.start = async (name) => {
    net.peers[name] = await spawnPeer(join(dir, name), relayArgs)
    return net.peers[name]
  }
  net.stop = async (name) => {
    await net.peers[name].stop()
    delete net.peers[name]
  }
  stopLater(() => Promise.all(Object.values(net.peers).map((p) => p.stop())))
  for (const name of names) await net.start(name)
  return net
}

async function eventually (what, fn, timeoutMs = ARRIVAL_TIMEOUT) {
  const deadline = Date.now() + timeoutMs
  let last
  while (Date.now() < deadline) {
    last = await fn()
    if (last.done) return last.value
    await new Promise(resolve => setTimeout(resolve, 200))
  }
  throw new Error(`${what}: last saw ${JSON.stringify(last?.value)}`)
}

async function user (net, name, username) {
  const peer = net.peers[name]
  const token = await register(peer, username)
  return { peer, token, user: `@${username}:${peer.serverName}` }
}

test('three peers, one relay with mailboxes: a message reaches a server that was away, whoever else is online', { timeout: 300000 }, async (t) => {
  const net = await network(t, ['a', 'b', 'c'])
  const alice = await user(net, 'a', 'alice')
  const bob = await user(net, 'b', 'bob')
  const carol = await user(net, 'c', 'carol')
  const roomId = await privateRoom(alice, [bob, carol])
  await say(alice.peer, alice.token, roomId, 'hello all')
  await waitForMessage(bob.peer, bob.token, roomId, 'hello all')
  await waitForMessage(carol.peer, carol.token, roomId, 'hello all')

  // Row 1: Bob away, Alice sends, Bob returns while Alice is still online.
  await net.stop('b')
  await say(alice.peer, alice.token, roomId, 'row 1')
  bob.peer = await net.start('b')
  await waitForMessage(bob.peer, bob.token, roomId, 'row 1', ARRIVAL_TIMEOUT)

  // Row 2: Bob away, Alice sends, Carol gets it, Alice goes away, Bob returns.
  await net.stop('b')
  const row2 = await say(alice.peer, alice.token, roomId, 'row 2')
  await waitForMessage(carol.peer, carol.token, roomId, 'row 2')
  const waiting = await eventually('Alice sees row 2 wait in Bob\'s mailbox', async () => {
    const state = await delivery(alice.peer, alice.token, roomId, row2)
    return { done: state.state === 'mailbox', value: state }
  })
  assert.deepEqual(Object.keys(waiting.waiting), [bob.peer.serverName], 'only Bob\'s server should still wait')
  // What the relay keeps is sealed to Bob: the text is nowhere in its files.
  const stored = Buffer.concat(await Promise.all((await readdir(net.mailboxDir)).map((f) => readFile(join(net.mailboxDir, f)))))
  assert.ok(stored.length > 0 && !stored.includes('row 2') && !stored.includes(alice.user), 'the relay stores the message in clear')
  await net.stop('a')
  bob.peer = await net.start('b')
  await waitForMessage(bob.peer, bob.token, roomId, 'row 2', ARRIVAL_TIMEOUT)

  // Alice comes back: the relay tells her Bob took the mail.
  alice.peer = await net.start('a')
  await eventually('Alice sees row 2 delivered', async () => {
    const state = await delivery(alice.peer, alice.token, roomId, row2)
    return { done: state.state === 'delivered', value: state }
  })

  // Row 3: a room of two. Bob away, Alice sends, Alice goes away, Bob returns.
  const pair = await privateRoom(alice, [bob])
  await say(alice.peer, alice.token, pair, 'just us')
  await waitForMessage(bob.peer, bob.token, pair, 'just us')
  await net.stop('b')
  await say(alice.peer, alice.token, pair, 'row 3')
  await eventually('the message to wait in Bob\'s mailbox', async () => {
    const history = await ok(alice.peer, 'GET', `${roomPath(pair)}/messages?dir=b&limit=1`, { token: alice.token })
    const state = await delivery(alice.peer, alice.token, pair, history.chunk[0].event_id)
    return { done: state.state === 'mailbox', value: state }
  })
  await net.stop('a')
  bob.peer = await net.start('b')
  const seen = await waitForMessage(bob.peer, bob.token, pair, 'row 3', ARRIVAL_TIMEOUT)
  assert.equal(seen.filter((m) => m === 'row 3').length, 1, 'delivered once')
})

test('without mailboxes, a returning server catches up from any member online', { timeout: 240000 }, async (t) => {
  const net = await network(t, ['a', 'b', 'c'], { mailbox: false })
  const alice = await user(net, 'a', 'alice')
  const bob = await user(net, 'b', 'bob')
  const carol = await user(net, 'c', 'carol')
  const roomId = await privateRoom(alice, [bob, carol])
  await say(alice.peer, alice.token, roomId, 'hello all')
  await waitForMessage(bob.peer, bob.token, roomId, 'hello all')

  await net.stop('b')
  const missed = await say(alice.peer, alice.token, roomId, 'said while Bob was away')
  await waitForMessage(carol.peer, carol.token, roomId, 'said while Bob was away')
  const state = await delivery(alice.peer, alice.token, roomId, missed)
  assert.equal(state.state, 'queued', 'no mailbox: the message waits in Alice\'s own queue')
  await net.stop('a')
  bob.peer = await net.start('b')
  // Only Carol is online: Bob asks her for what he missed.
  await waitForMessage(bob.peer, bob.token, roomId, 'said while Bob was away', ARRIVAL_TIMEOUT)
})
