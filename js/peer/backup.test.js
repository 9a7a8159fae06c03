// Backups of a headless peer: export a stopped peer's directory, import it
// into an empty one, and the server (name, users, rooms, messages, media) is
// there; a running peer, a wrong passphrase and a damaged file are refused
// with named errors and nothing is written.
import '../p2p/node-env.js'
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ok, privateRoom, register, roomPath, say, spawnPeer, tempRoot, waitForMessage } from './harness.js'
import { createRelay } from '../relay/index.js'

const cli = fileURLToPath(new URL('./cli.js', import.meta.url))
const repo = fileURLToPath(new URL('../../', import.meta.url))
const PASSPHRASE = 'a long and memorable passphrase'

/** Runs the peer command to completion; resolves to {code, output}. */
function runCli (args, passphrase = PASSPHRASE) {
  return new Promise(resolve => {
    execFile(process.execPath, [cli, ...args], { cwd: repo, env: { ...process.env, HEARTH_BACKUP_PASSPHRASE: passphrase } },
      (err, stdout, stderr) => resolve({ code: err ? err.code : 0, output: stdout + stderr }))
  })
}

test('a peer exported and imported into an empty directory is the same server, with its users, rooms, messages and media', { timeout: 180000 }, async (t) => {
  const { root, stopLater } = await tempRoot(t, 'hearth-peer-backup-')
  const [a, b, c] = ['a', 'b', 'c'].map(n => join(root, n))
  const file = join(root, 'server.hearth-backup')

  const peer = await spawnPeer(a)
  const token = await register(peer, 'mover')
  const roomId = (await ok(peer, 'POST', '/_matrix/client/v3/createRoom', { token, body: { name: 'Moving day' } })).room_id
  for (let i = 0; i < 5; i++) await say(peer, token, roomId, `message ${i}`)
  const picture = new Uint8Array(300000).map((_, i) => (i * 31) & 0xff)
  const up = await fetch(`${peer.url}/_matrix/media/v3/upload?filename=p.bin`, {
    method: 'POST', body: picture, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' }
  }).then(r => r.json())

  const busy = await runCli(['--data', a, '--export', file])
  assert.equal(busy.code, 1)
  assert.match(busy.output, /in use by process \d+/, 'a running peer was not named')
  await peer.stop()

  const exported = await runCli(['--data', a, '--export', file])
  assert.equal(exported.code, 0, exported.output)
  assert.match(exported.output, new RegExp(`exported ${peer.serverName}.*1 media files`))
  const bytes = await readFile(file)

  // Refusals leave the target directory empty.
  const refusals = [
    ['a wrong passphrase', file, 'not the passphrase', /BackupPassphraseError/],
    ['a truncated file', join(root, 'truncated'), PASSPHRASE, /BackupCorruptError/, bytes.subarray(0, bytes.length - 1000)],
    ['a tampered file', join(root, 'tampered'), PASSPHRASE, /BackupCorruptError/, Buffer.concat([bytes.subarray(0, 5000), Buffer.from([bytes[5000] ^ 0x40]), bytes.subarray(5001)])]
  ]
  for (const [what, path, passphrase, error, content] of refusals) {
    if (content) await writeFile(path, content)
    const res = await runCli(['--data', c, '--import', path], passphrase)
    assert.equal(res.code, 1, `${what}: ${res.output}`)
    assert.match(res.output, error, what)
    assert.deepEqual(await readdir(c), [], `${what} left files behind`)
  }
  const notEmpty = await runCli(['--data', a, '--import', file])
  assert.match(notEmpty.output, /BackupTargetNotEmptyError/)

  process.env.HEARTH_BACKUP_PASSPHRASE = PASSPHRASE
  t.after(() => { delete process.env.HEARTH_BACKUP_PASSPHRASE })
  const moved = await spawnPeer(b, ['--import', file])
  stopLater(() => moved.stop())
  assert.equal(moved.serverName, peer.serverName)
  const login = await ok(moved, 'POST', '/_matrix/client/v3/login', {
    body: { type: 'm.login.password', identifier: { type: 'm.id.user', user: 'mover' }, password: 'secret' }
  })
  assert.equal(login.user_id, `@mover:${peer.serverName}`)
  const history = await ok(moved, 'GET', `${roomPath(roomId)}/messages?dir=b&limit=50`, { token: login.access_token })
  const bodies = history.chunk.filter(e => e.type === 'm.room.message').map(e => e.content.body).reverse()
  assert.deepEqual(bodies, [0, 1, 2, 3, 4].map(i => `message ${i}`))
  const mediaId = up.content_uri.split('/').pop()
  const res = await fetch(`${moved.url}/_matrix/client/v1/media/download/${moved.serverName}/${mediaId}`, { headers: { authorization: `Bearer ${login.access_token}` } })
  assert.equal(res.status, 200)
  assert.deepEqual(new Uint8Array(await res.arrayBuffer()), picture)
})

test('a moved server federates as before: a message a third server sends after the move arrives', { timeout: 180000 }, async (t) => {
  const { root, stopLater } = await tempRoot(t, 'hearth-peer-backup-fed-')
  const relay = createRelay({ port: 0, logger: { log () {}, info () {}, warn () {} } })
  await relay.start()
  stopLater(() => relay.stop())
  const relayArgs = ['--relay', relay.multiaddrs()[0]]
  const file = join(root, 'moving.hearth-backup')

  const home = await spawnPeer(join(root, 'home'), relayArgs)
  const friend = await spawnPeer(join(root, 'friend'), relayArgs)
  stopLater(() => friend.stop())
  const mover = { peer: home, token: await register(home, 'mover'), user: `@mover:${home.serverName}` }
  const guest = { peer: friend, token: await register(friend, 'friend'), user: `@friend:${friend.serverName}` }
  const roomId = await privateRoom(mover, [guest])
  await say(friend, guest.token, roomId, 'before the move')
  await waitForMessage(home, mover.token, roomId, 'before the move')
  await home.stop()

  const exported = await runCli(['--data', join(root, 'home'), '--export', file])
  assert.equal(exported.code, 0, exported.output)
  process.env.HEARTH_BACKUP_PASSPHRASE = PASSPHRASE
  t.after(() => { delete process.env.HEARTH_BACKUP_PASSPHRASE })
  const moved = await spawnPeer(join(root, 'moved'), ['--import', file, ...relayArgs])
  stopLater(() => moved.stop())
  assert.equal(moved.serverName, home.serverName)

  await say(friend, guest.token, roomId, 'after the move')
  await waitForMessage(moved, mover.token, roomId, 'after the move', 60000)
  await say(moved, mover.token, roomId, 'hello from the new home')
  await waitForMessage(friend, guest.token, roomId, 'hello from the new home', 60000)
})
