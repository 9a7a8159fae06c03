import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createModel, localpartFrom } from './model.js'

const me = '@alice:peerA'
const bob = '@bob:peerB'
const ev = (id, type, sender, content, extra = {}) => ({ event_id: id, type, sender, content, origin_server_ts: Number(id.slice(2)) || 1, ...extra })
const member = (id, user, membership, displayname) => ev(id, 'm.room.member', user, { membership, displayname }, { state_key: user })
const msg = (id, sender, body, extra) => ev(id, 'm.room.message', sender, { msgtype: 'm.text', body }, extra)
const join = (roomId, events, { timeline, ...extra } = {}) => ({ next_batch: 's', rooms: { join: { [roomId]: { ...extra, timeline: { events, ...timeline } } } } })

test('names come from room state, display names from member events', () => {
  const m = createModel({ userId: me })
  m.applySync(join('!r', [member('$1', me, 'join', 'Alice'), member('$2', bob, 'join', 'Bob')]))
  assert.equal(m.roomName('!r'), 'Bob')
  assert.equal(m.displayName('!r', bob), 'Bob')
  m.applySync(join('!r', [ev('$3', 'm.room.name', me, { name: 'Kitchen' }, { state_key: '' })]))
  assert.equal(m.roomName('!r'), 'Kitchen')
  assert.equal(m.displayName('!r', '@carol:x'), 'carol')
})

test('a local echo is replaced by its event, matched by transaction ID', () => {
  const m = createModel({ userId: me })
  m.applySync(join('!r', [member('$1', me, 'join')]))
  const echo = m.addEcho('!r', { txnId: 't1', content: { body: 'hi' }, now: 5 })
  assert.equal(m.rooms.get('!r').pending.length, 1)
  m.applySync(join('!r', [msg('$2', me, 'hi', { unsigned: { transaction_id: 't1' } })]))
  assert.equal(m.rooms.get('!r').pending.length, 0)
  // The send's answer arriving after the sync drops nothing twice.
  m.echoSent('!r', echo, '$2')
  assert.deepEqual(m.rooms.get('!r').events.map((e) => e.event_id), ['$1', '$2'])
})

test('unread: messages from others after the read position; markRead clears it', () => {
  const marks = new Map()
  const m = createModel({ userId: me, readMarks: marks })
  m.applySync(join('!r', [member('$1', me, 'join'), msg('$2', bob, 'one'), msg('$3', bob, 'two')]))
  assert.equal(m.unread('!r'), 2)
  assert.equal(m.markRead('!r'), '$3')
  assert.equal(m.unread('!r'), 0)
  m.applySync(join('!r', [msg('$4', bob, 'three')]))
  assert.equal(m.unread('!r'), 1)
  m.applySync(join('!r', [msg('$5', me, 'answer')]))
  assert.equal(m.unread('!r'), 0, 'our own message reads everything before it')
  // A reload: the page's read mark counts too.
  const again = createModel({ userId: me, readMarks: new Map([['!r', '$3']]) })
  again.applySync(join('!r', [member('$1', me, 'join'), msg('$2', bob, 'one'), msg('$3', bob, 'two'), msg('$4', bob, 'three')]))
  assert.equal(again.unread('!r'), 1)
})

test('the server\'s count wins when it sends one', () => {
  const m = createModel({ userId: me })
  m.applySync(join('!r', [msg('$2', bob, 'one')], { unread_notifications: { notification_count: 7 } }))
  assert.equal(m.unread('!r'), 7)
})

test('typing and receipts from ephemeral events', () => {
  const m = createModel({ userId: me })
  m.applySync(join('!r', [msg('$2', me, 'hi')], { ephemeral: { events: [
    { type: 'm.typing', content: { user_ids: [bob, me] } },
    { type: 'm.receipt', content: { $2: { 'm.read': { [bob]: { ts: 1 } } } } }
  ] } }))
  const r = m.rooms.get('!r')
  assert.deepEqual(r.typing, [bob])
  assert.equal(r.receipts.get(bob), '$2')
})

test('invitations come and go', () => {
  const m = createModel({ userId: me })
  m.applySync({ rooms: { invite: { '!i': { invite_state: { events: [
    { type: 'm.room.name', state_key: '', content: { name: 'Den' }, sender: bob },
    { type: 'm.room.member', state_key: me, content: { membership: 'invite' }, sender: bob }
  ] } } } } })
  assert.deepEqual([...m.invites.values()].map((i) => [i.name, i.inviter]), [['Den', bob]])
  m.applySync(join('!i', [member('$9', me, 'join')]))
  assert.equal(m.invites.size, 0)
  m.applySync({ rooms: { leave: { '!i': {} } } })
  assert.equal(m.rooms.size, 0)
})

test('a limited timeline starts over and can page back', () => {
  const m = createModel({ userId: me })
  m.applySync(join('!r', [msg('$2', bob, 'old')]))
  m.applySync(join('!r', [msg('$9', bob, 'new')], { timeline: { limited: true, prev_batch: 'p1' } }))
  const r = m.rooms.get('!r')
  assert.deepEqual(r.events.map((e) => e.event_id), ['$9'])
  assert.equal(r.prevBatch, 'p1')
  m.prependEvents('!r', [msg('$8', bob, 'b'), msg('$7', bob, 'a')], undefined)
  assert.deepEqual(r.events.map((e) => e.event_id), ['$7', '$8', '$9'])
  assert.equal(r.prevBatch, null)
})

test('user names from display names', () => {
  assert.equal(localpartFrom('Bob Builder'), 'bob.builder')
  assert.equal(localpartFrom('  Zoë  '), 'zoe')
  assert.equal(localpartFrom('Алиса'), '')
})

test('delivery states of our messages: recorded once per change, only shown where other servers are', () => {
  const m = createModel({ userId: me })
  m.applySync(join('!r', [member('$1', me, 'join'), msg('$2', me, 'hi')]))
  assert.equal(m.hasOtherServers('!r'), false, 'a room of our own server only')
  m.applySync(join('!r', [member('$3', bob, 'invite')]))
  assert.equal(m.hasOtherServers('!r'), true)
  const before = m.rooms.get('!r').version
  assert.equal(m.setDelivery('!r', '$2', { state: 'mailbox', waiting: { peerB: 'mailbox' } }), true)
  assert.equal(m.setDelivery('!r', '$2', { state: 'mailbox', waiting: { peerB: 'mailbox' } }), false, 'no change, no re-render')
  assert.equal(m.rooms.get('!r').version, before + 1)
  assert.equal(m.setDelivery('!r', '$2', { state: 'delivered' }), true)
  assert.deepEqual(m.rooms.get('!r').delivery.get('$2'), { state: 'delivered' })
})

test('delivery states read as a person would say them', async () => {
  const { deliveryText } = await import('./message-view.js')
  assert.equal(deliveryText({ state: 'delivered' }), '✓ delivered')
  assert.equal(deliveryText({ state: 'mailbox', waiting: { b: 'mailbox' } }), 'waiting for 1 server, in its mailbox')
  assert.equal(deliveryText({ state: 'queued', waiting: { b: 'queued', c: 'queued' } }), 'waiting for 2 servers to come online')
  assert.equal(deliveryText({ state: 'queued', waiting: { b: 'queued', c: 'mailbox' } }), 'waiting for 2 servers: 1 in its mailbox, 1 not reached yet')
})

test('edits and reactions relate to a message: they are neither drawn nor counted as unread', () => {
  const m = createModel({ userId: me })
  m.applySync(join('!r', [member('$1', me, 'join'), msg('$2', bob, 'helo')]))
  m.markRead('!r')
  m.applySync(join('!r', [
    ev('$3', 'm.room.message', bob, { msgtype: 'm.text', body: '* hello', 'm.new_content': { msgtype: 'm.text', body: 'hello' }, 'm.relates_to': { rel_type: 'm.replace', event_id: '$2' } }),
    ev('$4', 'm.reaction', bob, { 'm.relates_to': { rel_type: 'm.annotation', event_id: '$2', key: '👍' } })
  ]))
  const r = m.rooms.get('!r')
  assert.equal(m.unread('!r'), 0)
  assert.equal(r.relations.content(m.event('!r', '$2')).body, 'hello')
  assert.deepEqual(r.relations.reactions('$2', me), [{ key: '👍', senders: [bob], mine: undefined }])
  assert.deepEqual(m.readMarkers('!r'), ['$2'], 'read up to the message, before its relations came')
})

test('mentions: m.mentions decides when present, else our user ID or display name as a word; counted while unread', () => {
  const model = createModel({ userId: '@me:s', ownName: () => 'Sam' })
  const text = (id, body, extra = {}) => ({ event_id: id, type: 'm.room.message', sender: '@o:s', origin_server_ts: 1, content: { msgtype: 'm.text', body, ...extra } })
  model.applySync({ rooms: { join: { '!r:s': { timeline: { events: [
    { event_id: '$m', type: 'm.room.member', state_key: '@me:s', sender: '@me:s', content: { membership: 'join', displayname: 'Sam' } },
    text('$1', 'hi sam, look'), text('$2', 'samples are in'), text('$3', 'ping @me:s'),
    text('$4', 'hi Sam', { 'm.mentions': {} }), text('$5', 'hi', { 'm.mentions': { user_ids: ['@me:s'] } })
  ] } } } } })
  const r = model.rooms.get('!r:s')
  const mentioned = r.events.filter((e) => e.type === 'm.room.message' && model.mentionsMe('!r:s', e.content)).map((e) => e.event_id)
  assert.deepEqual(mentioned, ['$1', '$3', '$5'])
  assert.equal(model.highlights('!r:s'), 3)
  model.applySync({ rooms: { join: { '!r:s': { unread_notifications: { highlight_count: 0 } } } } })
  assert.equal(model.highlights('!r:s'), 3, 'a server that evaluates no mentions does not hide ours')
  model.applySync({ rooms: { join: { '!r:s': { unread_notifications: { highlight_count: 7 } } } } })
  assert.equal(model.highlights('!r:s'), 7, 'the server\'s count when it knows of more')
  model.markRead('!r:s')
  assert.equal(model.highlights('!r:s'), 0)
})

test('power levels and avatars come from room state', () => {
  const model = createModel({ userId: '@me:s' })
  model.applySync({ rooms: { join: { '!r:s': { state: { events: [
    { type: 'm.room.power_levels', state_key: '', content: { users: { '@me:s': 100 }, users_default: 0, events: { 'm.room.name': 50 }, state_default: 50 } },
    { type: 'm.room.avatar', state_key: '', content: { url: 'mxc://s/room' } },
    { type: 'm.room.member', state_key: '@o:s', content: { membership: 'join', avatar_url: 'mxc://s/o' } }
  ] } } } } })
  assert.equal(model.powerLevel('!r:s', '@me:s'), 100)
  assert.equal(model.powerLevel('!r:s', '@o:s'), 0)
  assert.equal(model.canSend('!r:s', 'm.room.name'), true)
  assert.equal(model.rooms.get('!r:s').avatar, 'mxc://s/room')
  assert.equal(model.avatarUrl('!r:s', '@o:s'), 'mxc://s/o')
})

test('room version 12: creators are above every power level, others as the power levels say', () => {
  const model = createModel({ userId: '@me:s' })
  model.applySync({ rooms: { join: { '!r': { state: { events: [
    { type: 'm.room.create', state_key: '', sender: '@me:s', content: { room_version: '12', additional_creators: ['@co:s'] } },
    { type: 'm.room.power_levels', state_key: '', content: { users: { '@mod:s': 50 }, state_default: 50 } }
  ] } } } } })
  assert.equal(model.powerLevel('!r', '@me:s'), Infinity)
  assert.equal(model.powerLevel('!r', '@co:s'), Infinity)
  assert.equal(model.powerLevel('!r', '@mod:s'), 50)
  assert.equal(model.canSend('!r', 'm.room.power_levels'), true)
  model.applySync({ rooms: { join: { '!v11:s': { state: { events: [
    { type: 'm.room.create', state_key: '', sender: '@me:s', content: { room_version: '11' } },
    { type: 'm.room.power_levels', state_key: '', content: { users: {} } }
  ] } } } } })
  assert.equal(model.powerLevel('!v11:s', '@me:s'), 0, 'before v12 the creator is only what the power levels say')
})
