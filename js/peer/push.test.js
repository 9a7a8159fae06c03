/**
 * Push notifications from a headless peer (the wasm server under Node, its
 * data in sql.js): the push rules run in Go, and the notification reaches an
 * HTTP pusher's gateway through hearthPush (js/push, fetch). Needs `npm run
 * build` (dist/hearth.wasm).
 */
import '../p2p/node-env.js'
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import { once } from 'node:events'
import { join } from 'node:path'
import { ok, register, roomPath, spawnPeer, tempRoot } from './harness.js'

test('a mention notifies, counts and highlights, and is pushed to the pusher\'s gateway', { timeout: 120000 }, async (t) => {
  const pushed = []
  let arrived
  const gateway = createServer((req, res) => {
    const chunks = []
    req.on('data', (c) => chunks.push(c))
    req.on('end', () => {
      pushed.push({ path: req.url, body: JSON.parse(Buffer.concat(chunks).toString()) })
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end('{"rejected":[]}')
      arrived?.()
    })
  })
  gateway.listen(0, '127.0.0.1')
  await once(gateway, 'listening')
  t.after(() => gateway.close())
  const { root: dir, stopLater } = await tempRoot(t, 'hearth-push-')
  const peer = await spawnPeer(join(dir, 'a'))
  stopLater(() => peer.stop())

  const alice = await register(peer, 'alice')
  const bob = await register(peer, 'bob')
  const bobID = `@bob:${peer.serverName}`
  const roomId = (await ok(peer, 'POST', '/_matrix/client/v3/createRoom', { token: alice, body: { preset: 'public_chat' } })).room_id
  await ok(peer, 'POST', `/_matrix/client/v3/join/${encodeURIComponent(roomId)}`, { token: bob, body: {} })
  await ok(peer, 'POST', '/_matrix/client/v3/pushers/set', {
    token: bob,
    body: {
      pushkey: 'phone-1', kind: 'http', app_id: 'org.example.app', app_display_name: 'Example',
      device_display_name: 'Phone', lang: 'en', data: { url: `http://127.0.0.1:${gateway.address().port}/_matrix/push/v1/notify` }
    }
  })

  const delivered = new Promise((resolve) => { arrived = resolve })
  const eventId = (await ok(peer, 'PUT', `${roomPath(roomId)}/send/m.room.message/t1`, {
    token: alice, body: { msgtype: 'm.text', body: 'over to you', 'm.mentions': { user_ids: [bobID] } }
  })).event_id
  await delivered
  const { path, body } = pushed[0]
  assert.equal(path, '/_matrix/push/v1/notify')
  assert.equal(body.notification.event_id, eventId)
  assert.equal(body.notification.room_id, roomId)
  assert.equal(body.notification.content.body, 'over to you')
  assert.equal(body.notification.counts.unread, 1)
  assert.equal(body.notification.devices[0].pushkey, 'phone-1')
  assert.equal(body.notification.devices[0].tweaks.highlight, true)

  const sync = await ok(peer, 'GET', '/_matrix/client/v3/sync', { token: bob })
  assert.deepEqual(sync.rooms.join[roomId].unread_notifications, { notification_count: 1, highlight_count: 1 })
  const list = await ok(peer, 'GET', '/_matrix/client/v3/notifications', { token: bob })
  assert.equal(list.notifications.length, 1)
  assert.equal(list.notifications[0].event.event_id, eventId)
})
