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
