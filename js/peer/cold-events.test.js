// Old messages' JSON leaves a headless peer's database for files beside it
// (go/room cold_events.go), and the peer serves them as before: after a
// SIGKILL, a restart, and in a backup imported elsewhere.
import '../p2p/node-env.js'
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ok, register, roomPath, say, spawnPeer, tempRoot } from './harness.js'

const cli = fileURLToPath(new URL('./cli.js', import.meta.url))
const repo = fileURLToPath(new URL('../../', import.meta.url))
const MESSAGES = 40
const KEEP = 5

/** The cold events' files of a data directory. */
const coldFiles = (dir) => readdir(join(dir, 'media', 'event')).catch(() => [])

/** Every message body of a room, oldest first, read through /messages. */
async function bodies (peer, token, roomId) {
  const page = await ok(peer, 'GET', `${roomPath(roomId)}/messages?dir=f&limit=200`, { token })
  return page.chunk.filter(e => e.type === 'm.room.message').map(e => e.content.body)
}

test('old messages moved out of the database are served after SIGKILL, a restart and a backup', { timeout: 180000 }, async (t) => {
  const { root, stopLater } = await tempRoot(t, 'hearth-peer-cold-')
  const [a, b] = ['a', 'b'].map(n => join(root, n))
  const tuning = { HEARTH_COLD_EVENTS_KEEP: String(KEEP), HEARTH_COLD_EVENTS_BATCH: '5', HEARTH_COLD_EVENTS_EVERY_MS: '100' }
  Object.assign(process.env, tuning)
  t.after(() => { for (const name of Object.keys(tuning)) delete process.env[name] })

  const peer = await spawnPeer(a)
  stopLater(() => peer.kill())
  const token = await register(peer, 'archivist')
  const roomId = (await ok(peer, 'POST', '/_matrix/client/v3/createRoom', { token, body: { name: 'Archive' } })).room_id
  const sent = []
  for (let i = 0; i < MESSAGES; i++) sent.push(`message ${i} word${i}`)
  const ids = []
  for (const text of sent) ids.push(await say(peer, token, roomId, text))

  const deadline = Date.now() + 30000
  while ((await coldFiles(a)).length < MESSAGES - KEEP - 5) {
    if (Date.now() > deadline) assert.fail(`only ${(await coldFiles(a)).length} events moved out:\n${peer.output()}`)
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  assert.deepEqual(await bodies(peer, token, roomId), sent)

  // Killed, with moves under way or just done: nothing is lost.
  await peer.kill()
  const again = await spawnPeer(a)
  stopLater(() => again.stop())
  assert.deepEqual(await bodies(again, token, roomId), sent)
  const early = await ok(again, 'GET', `${roomPath(roomId)}/event/${encodeURIComponent(ids[2])}`, { token })
  assert.equal(early.content.body, sent[2])
  const context = await ok(again, 'GET', `${roomPath(roomId)}/context/${encodeURIComponent(ids[3])}?limit=2`, { token })
  assert.equal(context.event.content.body, sent[3])
  const found = await ok(again, 'POST', '/_matrix/client/v3/search', { token, body: { search_categories: { room_events: { search_term: 'word1' } } } })
  assert.deepEqual(found.search_categories.room_events.results.map(r => r.result.event_id), [ids[1]])

  // A redacted cold message leaves no content behind, in the file either.
  await ok(again, 'PUT', `${roomPath(roomId)}/redact/${encodeURIComponent(ids[4])}/r1`, { token, body: {} })
  const redacted = await ok(again, 'GET', `${roomPath(roomId)}/event/${encodeURIComponent(ids[4])}`, { token })
  assert.equal(redacted.content.body, undefined)

  // A backup carries them to another directory.
  await again.stop()
  const passphrase = 'a long and memorable passphrase'
  const file = join(root, 'server.hearth-backup')
  const run = (args) => new Promise(resolve => execFile(process.execPath, [cli, ...args],
    { cwd: repo, env: { ...process.env, HEARTH_BACKUP_PASSPHRASE: passphrase } }, (err, stdout, stderr) => resolve({ code: err ? err.code : 0, output: stdout + stderr })))
  const exported = await run(['--data', a, '--export', file])
  assert.equal(exported.code, 0, exported.output)
  process.env.HEARTH_BACKUP_PASSPHRASE = passphrase
  t.after(() => { delete process.env.HEARTH_BACKUP_PASSPHRASE })
  const moved = await spawnPeer(b, ['--import', file])
  stopLater(() => moved.stop())
  const expected = sent.map((text, i) => i === 4 ? undefined : text)
  assert.deepEqual(await bodies(moved, token, roomId), expected)
  for (const name of await coldFiles(b)) {
    assert.doesNotMatch(await readFile(join(b, 'media', 'event', name), 'utf8'), /word4\b/, `file ${name} keeps the redacted words`)
  }
})
