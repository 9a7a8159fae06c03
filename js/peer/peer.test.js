/**
 * The headless peer as a user runs it: `node js/peer/cli.js` in its own
 * process (one Go server per JS realm), driven over its HTTP client API.
 * Needs `npm run build` (dist/hearth.wasm).
 */
import '../p2p/node-env.js'
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createRelay } from '../relay/index.js'
import { call, register, spawnPeer, tempRoot, waitForMessage } from './harness.js'

const cli = fileURLToPath(new URL('./cli.js', import.meta.url))
const repo = fileURLToPath(new URL('../../', import.meta.url))

test('a headless peer keeps its identity and data across restarts, and one peer owns a data directory', { timeout: 120000 }, async (t) => {
  const { root: dir, stopLater } = await tempRoot(t, 'hearth-peer-')

  let peer = await spawnPeer(dir)
  const name = peer.serverName
  const token = await register(peer, 'bot')
  const room = await call(peer, 'POST', '/_matrix/client/v3/createRoom', { token, body: { name: 'Log' } })
  assert.equal(room.status, 200)
  const roomPath = `/_matrix/client/v3/rooms/${encodeURIComponent(room.body.room_id)}`
  const sent = await call(peer, 'PUT', `${roomPath}/send/m.room.message/t1`, { token, body: { msgtype: 'm.text', body: 'persisted' } })
  assert.equal(sent.status, 200)

  // A second peer on the same directory is refused while the first runs.
  const second = spawn(process.execPath, [cli, '--data', dir], { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] })
  let secondOut = ''
  second.stderr.on('data', (c) => { secondOut += c })
  const code = await new Promise(resolve => second.once('exit', resolve))
  assert.equal(code, 1)
  assert.match(secondOut, /in use by process/)

  // Killed outright: the acknowledged message survives, the stale lock is taken over.
  await peer.kill()
  peer = await spawnPeer(dir)
  stopLater(() => peer.stop())
  assert.equal(peer.serverName, name, 'the server name changed across a restart')
  const messages = await call(peer, 'GET', `${roomPath}/messages?dir=b&limit=5`, { token })
  assert.equal(messages.status, 200, JSON.stringify(messages.body))
  assert.ok(messages.body.chunk.some(ev => ev.content?.body === 'persisted'), 'the message was lost')
})

/**
 * A relay and two peers A and B, each with its own data directory; the test
 * may replace net.b (a restart). Everything is stopped and removed after it.
 */
async function relayAndTwoPeers (t) {
  const { root, stopLater } = await tempRoot(t, 'hearth-peer-')
  const relay = createRelay({ port: 0, logger: { log () {}, info () {}, warn () {} } })
  await relay.start()
  stopLater(() => relay.stop())
  const relayArgs = ['--relay', relay.multiaddrs()[0]]
  const dirs = [join(root, 'a'), join(root, 'b')]
  const net = { relayArgs, dirs, a: await spawnPeer(dirs[0], relayArgs), b: await spawnPeer(dirs[1], relayArgs) }
  stopLater(() => Promise.all([net.a.stop(), net.b.stop()]))
  return net
}

test('two peers on one relay share a room, and a restarted peer catches up on what it missed', { timeout: 180000 }, async (t) => {
  const net = await relayAndTwoPeers(t)
  const { a } = net
  let { b } = net
  // The server name is the libp2p peer ID each peer announces itself with.
  assert.match(a.output(), new RegExp(`on the p2p network as ${a.serverName}`))
  assert.notEqual(a.serverName, b.serverName)

  const alice = await register(a, 'alice')
  const bob = await register(b, 'bob')
  const created = await call(a, 'POST', '/_matrix/client/v3/createRoom', { token: alice, body: { preset: 'public_chat', name: 'Across' } })
  assert.equal(created.status, 200, JSON.stringify(created.body))
  const roomId = created.body.room_id

  // Bob joins A's room over libp2p: make_join/send_join signed by B's key, checked by A.
  const joinPath = `/_matrix/client/v3/join/${encodeURIComponent(roomId)}?server_name=${a.serverName}`
  let joined
  for (let tries = 0; tries < 20; tries++) { // discovery through the relay takes a moment
    joined = await call(b, 'POST', joinPath, { token: bob, body: {} })
    if (joined.status === 200) break
    await new Promise(resolve => setTimeout(resolve, 500))
  }
  assert.equal(joined.status, 200, JSON.stringify(joined.body))

  const send = (peer, token, txn, text) => call(peer, 'PUT',
    `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/${txn}`,
    { token, body: { msgtype: 'm.text', body: text } })
  assert.equal((await send(a, alice, 'a1', 'hello from A')).status, 200)
  await waitForMessage(b, bob, roomId, 'hello from A')
  assert.equal((await send(b, bob, 'b1', 'hello from B')).status, 200)
  await waitForMessage(a, alice, roomId, 'hello from B')

  // B goes away; A keeps talking; B comes back (same data, same key) and catches up.
  await b.stop()
  for (const n of [1, 2, 3]) assert.equal((await send(a, alice, `missed${n}`, `missed ${n}`)).status, 200)
  b = net.b = await spawnPeer(net.dirs[1], net.relayArgs)
  await waitForMessage(b, bob, roomId, 'missed 3', 60000)
  const history = await call(b, 'GET', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/messages?dir=b&limit=50`, { token: bob })
  const bodies = history.body.chunk.filter(ev => ev.type === 'm.room.message').map(ev => ev.content.body).reverse()
  assert.deepEqual(bodies, ['hello from A', 'hello from B', 'missed 1', 'missed 2', 'missed 3'])
})

test('a federation request from A\'s Go code reaches B\'s Go code and back, with a 1 MiB body intact (remote media through the relay)', { timeout: 180000 }, async (t) => {
  const { a, b } = await relayAndTwoPeers(t)

  const alice = await register(a, 'alice')
  const bob = await register(b, 'bob')
  const data = new Uint8Array(1024 * 1024)
  for (let i = 0; i < data.length; i++) data[i] = i % 256
  const up = await fetch(`${a.url}/_matrix/media/v3/upload?filename=bytes.bin`, {
    method: 'POST', headers: { authorization: `Bearer ${alice}`, 'content-type': 'application/octet-stream' }, body: data
  })
  assert.equal(up.status, 200, await up.clone().text())
  const { content_uri: mxc } = await up.json()
  assert.ok(mxc.startsWith(`mxc://${a.serverName}/`), mxc)

  // Bob's client asks B; B's Go fetches from A's Go over libp2p
  // (GET /_matrix/federation/v1/media/download, multipart/mixed).
  const path = `/_matrix/client/v1/media/download/${mxc.slice('mxc://'.length)}`
  let res
  for (let tries = 0; tries < 20; tries++) { // discovery through the relay takes a moment
    res = await fetch(b.url + path, { headers: { authorization: `Bearer ${bob}` } })
    if (res.status === 200) break
    await res.arrayBuffer()
    await new Promise(resolve => setTimeout(resolve, 500))
  }
  assert.equal(res.status, 200)
  const got = new Uint8Array(await res.arrayBuffer())
  assert.equal(got.length, data.length)
  assert.ok(Buffer.from(got).equals(Buffer.from(data)), 'the 1 MiB body changed on the way')

  // Remote profile through the relay too.
  const set = await call(a, 'PUT', `/_matrix/client/v3/profile/${encodeURIComponent(`@alice:${a.serverName}`)}/displayname`,
    { token: alice, body: { displayname: 'Alice on A' } })
  assert.equal(set.status, 200, JSON.stringify(set.body))
  const profile = await call(b, 'GET', `/_matrix/client/v3/profile/${encodeURIComponent(`@alice:${a.serverName}`)}`, { token: bob })
  assert.equal(profile.status, 200, JSON.stringify(profile.body))
  assert.equal(profile.body.displayname, 'Alice on A')
})
