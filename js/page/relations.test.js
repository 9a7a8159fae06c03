import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRelations } from './relations.js'

const alice = '@alice:a'
const bob = '@bob:b'
const msg = (id, sender, body, ts = 1) => ({ event_id: id, type: 'm.room.message', sender, origin_server_ts: ts, content: { msgtype: 'm.text', body } })
const edit = (id, sender, target, body, ts) => ({
  event_id: id, type: 'm.room.message', sender, origin_server_ts: ts,
  content: { msgtype: 'm.text', body: `* ${body}`, 'm.new_content': { msgtype: 'm.text', body }, 'm.relates_to': { rel_type: 'm.replace', event_id: target } }
})
const react = (id, sender, target, key) => ({ event_id: id, type: 'm.reaction', sender, content: { 'm.relates_to': { rel_type: 'm.annotation', event_id: target, key } } })
const redaction = (id, target) => ({ event_id: id, type: 'm.room.redaction', sender: alice, redacts: target, content: { redacts: target } })

test('edits: the newest by the original sender is shown, in any arrival order; others\' edits are ignored', () => {
  const rel = createRelations()
  const original = msg('$1', alice, 'helo')
  assert.equal(rel.add(edit('$3', alice, '$1', 'hello!', 3)), true)
  assert.equal(rel.add(edit('$2', alice, '$1', 'hello', 2)), true)
  assert.equal(rel.add(edit('$4', bob, '$1', 'hijacked', 4)), true)
  assert.equal(rel.add(original), false)
  assert.equal(rel.content(original).body, 'hello!')
  assert.equal(rel.edited(original), true)
  assert.equal(rel.isHidden('$3'), true)
  assert.equal(rel.isHidden('$1'), false)
  rel.add(redaction('$5', '$3'))
  assert.equal(rel.content(original).body, 'hello', 'a deleted edit falls back to the one before')
})

test('reactions: counted per key and sender, toggled off by redaction', () => {
  const rel = createRelations()
  rel.add(react('$r1', alice, '$1', '👍'))
  rel.add(react('$r2', bob, '$1', '👍'))
  rel.add(react('$r3', bob, '$1', '🎉'))
  assert.deepEqual(rel.reactions('$1', alice), [
    { key: '👍', senders: [alice, bob], mine: '$r1' },
    { key: '🎉', senders: [bob], mine: undefined }
  ])
  rel.add(redaction('$x', '$r1'))
  rel.add(redaction('$y', '$r3'))
  assert.deepEqual(rel.reactions('$1', alice), [{ key: '👍', senders: [bob], mine: undefined }])
})

test('a redacted message shows no content, also when the redaction came first', () => {
  const rel = createRelations()
  rel.add(redaction('$9', '$1'))
  const m = msg('$1', alice, 'oops')
  rel.add(m)
  assert.deepEqual(rel.content(m), {})
  assert.equal(rel.isHidden('$9'), true)
})

test('an edited reply keeps answering the same message', () => {
  const rel = createRelations()
  const reply = msg('$2', alice, 'yes')
  reply.content['m.relates_to'] = { 'm.in_reply_to': { event_id: '$1' } }
  rel.add(reply)
  rel.add(edit('$3', alice, '$2', 'yes!', 3))
  assert.deepEqual(rel.content(reply)['m.relates_to'], { 'm.in_reply_to': { event_id: '$1' } })
})

const threadReply = (id, sender, root, body, ts) => ({
  event_id: id, type: 'm.room.message', sender, origin_server_ts: ts,
  content: { msgtype: 'm.text', body, 'm.relates_to': { rel_type: 'm.thread', event_id: root, is_falling_back: true, 'm.in_reply_to': { event_id: root } } }
})

test('threads: replies are hidden from the room, counted on the root, merged with the server\'s summary', () => {
  const rel = createRelations()
  const root = { ...msg('$root', alice, 'a question', 1), unsigned: { 'm.relations': { 'm.thread': { count: 3, latest_event: threadReply('$t3', bob, '$root', 'three', 30), current_user_participated: false } } } }
  assert.equal(rel.add(root), false)
  assert.deepEqual(rel.thread('$root').count, 3, 'the bundled count before any reply is loaded')
  assert.equal(rel.thread('$root').latest.event_id, '$t3')
  assert.equal(rel.add(threadReply('$t4', alice, '$root', 'four', 40)), true, 'a thread reply is not drawn in the room')
  assert.equal(rel.isHidden('$t4'), true)
  assert.equal(rel.inThread(threadReply('$t4', alice, '$root', 'four', 40)), true)
  assert.equal(rel.thread('$root').count, 4, 'a reply newer than the summary\'s latest adds one')
  for (const [id, ts] of [['$t1', 10], ['$t2', 20], ['$t3', 30]]) rel.add(threadReply(id, bob, '$root', id, ts))
  assert.equal(rel.thread('$root').count, 4, 'older replies paged in are not counted twice')
  assert.deepEqual(rel.thread('$root').replies.map((e) => e.event_id), ['$t1', '$t2', '$t3', '$t4'])
  rel.add(redaction('$x', '$t2'))
  assert.deepEqual(rel.thread('$root').replies.map((e) => e.event_id), ['$t1', '$t3', '$t4'], 'a deleted reply leaves the thread')
  assert.equal(rel.thread('$none'), null)
})

test('a bundled edit shows the newest text of a message whose edit is not loaded', () => {
  const rel = createRelations()
  const original = { ...msg('$1', alice, 'helo', 1), unsigned: { 'm.relations': { 'm.replace': edit('$2', alice, '$1', 'hello', 2) } } }
  rel.add(original)
  assert.equal(rel.content(original).body, 'hello')
  assert.equal(rel.edited(original), true)
  assert.equal(rel.add(edit('$2', alice, '$1', 'hello', 2)), true, 'the same edit arriving later is one edit')
  rel.add(redaction('$3', '$2'))
  assert.equal(rel.content(original).body, 'helo')
})
