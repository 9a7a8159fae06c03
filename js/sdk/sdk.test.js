/**
 * matrix-js-sdk (the version pinned in package.json) drives Hearth through
 * its public API: first the native server, then a headless peer. Every
 * endpoint the SDK touches here is the server's real one.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRelay } from '../relay/index.js'
import {
  sdk, nativeServer, stopAfter, startPeer, peerBuilt,
  loggedInClient, startSyncing, waitFor, until
} from './harness.js'

const { ClientEvent, RoomEvent, RoomMemberEvent, MatrixEventEvent } = sdk

const startServer = nativeServer()

/**
 * The flow a chat client goes through, against the server at baseUrl:
 * log in, create a room, a second user joins, messages go both ways through
 * the sync loops, profiles, typing, receipts, redaction, and a third client
 * paging back through history with scrollback.
 */
async function chatFlow (t, server) {
  const alice = await loggedInClient(server.url, 'alice')
  const bob = await loggedInClient(server.url, 'bob')
  const clients = [alice, bob]
  stopAfter(t, server, clients)
  await Promise.all([startSyncing(alice), startSyncing(bob)])

  const { room_id: roomId } = await alice.createRoom({ preset: 'public_chat', name: 'Kitchen' })
  await bob.joinRoom(roomId)

  await t.test('messages arrive through the other client\'s sync loop', async () => {
    const got = waitFor(bob, RoomEvent.Timeline, (ev) => ev.getType() === 'm.room.message' && ev.getContent().body === 'hello bob')
    await alice.sendTextMessage(roomId, 'hello bob')
    await got
    const back = waitFor(alice, RoomEvent.Timeline, (ev) => ev.getContent().body === 'hi alice')
    await bob.sendTextMessage(roomId, 'hi alice')
    const [ev] = await back
    assert.equal(ev.getSender(), bob.getUserId())
    assert.equal(alice.getRoom(roomId).name, 'Kitchen')
  })

  await t.test('a display name change shows in the room', async () => {
    await alice.setDisplayName('Alice Liddell')
    const profile = await bob.getProfileInfo(alice.getUserId())
    assert.equal(profile.displayname, 'Alice Liddell')
    await until(() => bob.getRoom(roomId).getMember(alice.getUserId())?.name === 'Alice Liddell', 'member name in bob\'s room')
  })

  await t.test('typing notices reach the other client and end', async () => {
    const typing = waitFor(bob, RoomMemberEvent.Typing, (_ev, member) => member.userId === alice.getUserId() && member.typing)
    await alice.sendTyping(roomId, true, 20000)
    await typing
    const stopped = waitFor(bob, RoomMemberEvent.Typing, (_ev, member) => member.userId === alice.getUserId() && !member.typing)
    await alice.sendTyping(roomId, false)
    await stopped
  })

  await t.test('read receipts reach the sender', async () => {
    const { event_id: eventId } = await alice.sendTextMessage(roomId, 'read this')
    await until(() => bob.getRoom(roomId).findEventById(eventId), 'bob has the event')
    await bob.sendReadReceipt(bob.getRoom(roomId).findEventById(eventId))
    await until(() => alice.getRoom(roomId).getEventReadUpTo(bob.getUserId()) === eventId, 'alice sees bob\'s receipt')
  })

  await t.test('a redaction blanks the event for everyone', async () => {
    const { event_id: eventId } = await bob.sendTextMessage(roomId, 'oops, secret')
    await until(() => alice.getRoom(roomId).findEventById(eventId), 'alice has the event')
    await bob.redactEvent(roomId, eventId)
    await until(() => alice.getRoom(roomId).findEventById(eventId)?.isRedacted(), 'alice sees it redacted')
    assert.equal(alice.getRoom(roomId).findEventById(eventId).getContent().body, undefined)
  })

  await t.test('a late joiner pages back through history with scrollback', async () => {
    for (let i = 0; i < 25; i++) await alice.sendTextMessage(roomId, `history ${i}`)
    const carol = await loggedInClient(server.url, 'carol')
    clients.push(carol)
    await startSyncing(carol, { initialSyncLimit: 5 })
    await carol.joinRoom(roomId)
    await until(() => carol.getRoom(roomId)?.getMyMembership() === 'join', 'carol joined')
    const room = carol.getRoom(roomId)
    const bodies = () => room.getLiveTimeline().getEvents()
      .filter(e => e.getType() === 'm.room.message').map(e => e.getContent().body)
    for (let i = 0; i < 20 && !bodies().includes('hello bob'); i++) await carol.scrollback(room, 10)
    const all = bodies()
    assert.ok(all.includes('hello bob'), `scrollback reached the start: ${all.join(', ')}`)
    const history = all.filter(b => b?.startsWith('history '))
    assert.deepEqual(history, Array.from({ length: 25 }, (_, i) => `history ${i}`))
  })
}

test('matrix-js-sdk against the native server', { timeout: 90000 }, async (t) => {
  await chatFlow(t, await startServer())
})

test('matrix-js-sdk: media, account data and devices on the native server', { timeout: 60000 }, async (t) => {
  const server = await startServer()
  const alice = await loggedInClient(server.url, 'alice')
  stopAfter(t, server, [alice])
  await startSyncing(alice)

  const { content_uri: uri } = await alice.uploadContent(Buffer.from('hello file'), { type: 'text/plain', name: 'note.txt' })
  assert.match(uri, /^mxc:\/\//)
  const res = await fetch(alice.mxcUrlToHttp(uri, undefined, undefined, undefined, false, true, true), {
    headers: { authorization: `Bearer ${alice.getAccessToken()}` }
  })
  assert.equal(res.status, 200)
  assert.equal(await res.text(), 'hello file')

  const seen = waitFor(alice, ClientEvent.AccountData, (ev) => ev.getType() === 'org.example.settings')
  await alice.setAccountData('org.example.settings', { theme: 'dark' })
  await seen
  assert.equal(alice.getAccountData('org.example.settings').getContent().theme, 'dark')

  // Registering logged in one device and the password login a second.
  const { devices } = await alice.getDevices()
  assert.equal(devices.length, 2)
  assert.ok(devices.some(d => d.device_id === alice.getDeviceId()))
})

test('matrix-js-sdk rust crypto: an encrypted room between two users of one server, and cross-signing', { timeout: 90000 }, async (t) => {
  const server = await startServer()
  const alice = await loggedInClient(server.url, 'alice')
  const bob = await loggedInClient(server.url, 'bob')
  stopAfter(t, server, [alice, bob])
  await alice.initRustCrypto({ useIndexedDB: false })
  await bob.initRustCrypto({ useIndexedDB: false })
  await Promise.all([startSyncing(alice), startSyncing(bob)])

  const { room_id: roomId } = await alice.createRoom({
    preset: 'private_chat', name: 'Secrets', invite: [bob.getUserId()],
    initial_state: [{ type: 'm.room.encryption', state_key: '', content: { algorithm: 'm.megolm.v1.aes-sha2' } }]
  })
  await until(() => bob.getRoom(roomId)?.getMyMembership() === 'invite', 'bob sees the invite')
  await bob.joinRoom(roomId)
  await until(() => alice.getRoom(roomId)?.getMember(bob.getUserId())?.membership === 'join', 'alice sees bob join')

  const decrypted = waitFor(bob, MatrixEventEvent.Decrypted, (ev) => ev.getType() === 'm.room.message', 30000)
  const { event_id: eventId } = await alice.sendTextMessage(roomId, 'for bob only')
  const [ev] = await decrypted
  assert.equal(ev.getContent().body, 'for bob only')
  assert.equal(ev.getWireType(), 'm.room.encrypted')

  // The server stored ciphertext only.
  const raw = await fetch(`${server.url}/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/event/${encodeURIComponent(eventId)}`, {
    headers: { authorization: `Bearer ${alice.getAccessToken()}` }
  }).then(r => r.json())
  assert.equal(raw.type, 'm.room.encrypted')
  assert.ok(!JSON.stringify(raw).includes('for bob only'))

  // And back the other way, reusing the session bob now has.
  const back = waitFor(alice, MatrixEventEvent.Decrypted, (e) => e.getType() === 'm.room.message' && e.getSender() === bob.getUserId(), 30000)
  await bob.sendTextMessage(roomId, 'got it')
  assert.equal((await back)[0].getContent().body, 'got it')

  // Cross-signing: alice sets it up; bob's client learns through its device
  // list that alice's device is now signed by her own cross-signing keys.
  await alice.getCrypto().bootstrapCrossSigning({
    authUploadDeviceSigningKeys: async (makeRequest) => { await makeRequest({ type: 'm.login.dummy' }) }
  })
  assert.ok(await alice.getCrypto().isCrossSigningReady())
  await until(async () => (await bob.getCrypto().getDeviceVerificationStatus(alice.getUserId(), alice.getDeviceId()))?.signedByOwner,
    'bob sees alice\'s device signed by her', 30000)
})

test('matrix-js-sdk against a headless peer', { timeout: 120000 }, async (t) => {
  if (!(await peerBuilt())) {
    t.skip('dist/hearth.wasm is missing: run npm run build')
    return
  }
  await chatFlow(t, await startPeer())
})

test('matrix-js-sdk: two clients on two peers in one room, through a relay, and an encrypted room between them', { timeout: 150000 }, async (t) => {
  if (!(await peerBuilt())) {
    t.skip('dist/hearth.wasm is missing: run npm run build')
    return
  }
  const relay = createRelay({ port: 0, logger: { log () {}, info () {}, warn () {} } })
  await relay.start()
  t.after(() => relay.stop())
  const [a, b] = await Promise.all([startPeer({ relay: relay.multiaddrs()[0] }), startPeer({ relay: relay.multiaddrs()[0] })])
  t.after(() => Promise.all([a.stop(), b.stop()]))
  const alice = await loggedInClient(a.url, 'alice')
  const bob = await loggedInClient(b.url, 'bob')
  t.after(() => { alice.stopClient(); bob.stopClient() })
  await alice.initRustCrypto({ useIndexedDB: false })
  await bob.initRustCrypto({ useIndexedDB: false })
  await Promise.all([startSyncing(alice), startSyncing(bob)])

  const { room_id: roomId } = await alice.createRoom({ preset: 'public_chat', name: 'Across' })
  await until(async () => {
    try {
      await bob.joinRoom(roomId, { viaServers: [a.serverName] })
      return true
    } catch { return false } // discovery through the relay takes a moment
  }, 'bob joins alice\'s room on the other peer', 30000)

  const got = waitFor(bob, RoomEvent.Timeline, (ev) => ev.getContent().body === 'hello from A', 30000)
  await alice.sendTextMessage(roomId, 'hello from A')
  const [ev] = await got
  const back = waitFor(alice, RoomEvent.Timeline, (e) => e.getContent().body === 'hello from B', 30000)
  await bob.sendTextMessage(roomId, 'hello from B')
  await back

  // Typing and receipts cross as EDUs.
  const typing = waitFor(bob, RoomMemberEvent.Typing, (_e, member) => member.userId === alice.getUserId() && member.typing, 30000)
  await alice.sendTyping(roomId, true, 20000)
  await typing
  const readMe = waitFor(bob, RoomEvent.Timeline, (e) => e.getContent().body === 'read me', 30000)
  await alice.sendTextMessage(roomId, 'read me')
  const [toRead] = await readMe
  await bob.sendReadReceipt(toRead)
  await until(() => alice.getRoom(roomId).getEventReadUpTo(bob.getUserId()) === toRead.getId(), 'alice sees bob\'s receipt', 30000)

  // A profile change and a redaction are room events: they federate too.
  await alice.setDisplayName('Alice on A')
  await until(() => bob.getRoom(roomId).getMember(alice.getUserId())?.name === 'Alice on A', 'bob sees alice\'s new name', 30000)
  await alice.redactEvent(roomId, ev.getId())
  await until(() => bob.getRoom(roomId).findEventById(ev.getId())?.isRedacted(), 'bob sees the redaction', 30000)

  // An encrypted room across the two peers: alice's client queries and
  // claims bob's keys through A and B (user/keys/query, user/keys/claim),
  // and the room key reaches bob's device as a to-device EDU.
  const { room_id: secretRoom } = await alice.createRoom({
    preset: 'private_chat', name: 'Secrets across', invite: [bob.getUserId()],
    initial_state: [{ type: 'm.room.encryption', state_key: '', content: { algorithm: 'm.megolm.v1.aes-sha2' } }]
  })
  await until(() => bob.getRoom(secretRoom)?.getMyMembership() === 'invite', 'bob sees the invite to the encrypted room', 30000)
  await bob.joinRoom(secretRoom, { viaServers: [a.serverName] })
  await until(() => alice.getRoom(secretRoom)?.getMember(bob.getUserId())?.membership === 'join', 'alice sees bob join the encrypted room', 30000)
  const decrypted = waitFor(bob, MatrixEventEvent.Decrypted, (e) => e.getType() === 'm.room.message' && e.getRoomId() === secretRoom, 30000)
  await alice.sendTextMessage(secretRoom, 'for bob only, across peers')
  const [secret] = await decrypted
  assert.equal(secret.getContent().body, 'for bob only, across peers')
  assert.equal(secret.getWireType(), 'm.room.encrypted')
  const decryptedBack = waitFor(alice, MatrixEventEvent.Decrypted,
    (e) => e.getType() === 'm.room.message' && e.getRoomId() === secretRoom && e.getSender() === bob.getUserId(), 30000)
  await bob.sendTextMessage(secretRoom, 'got it, across peers')
  assert.equal((await decryptedBack)[0].getContent().body, 'got it, across peers')
})
