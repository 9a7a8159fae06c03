// The JS helpers that hand requests, mail and notices to Go's globals.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { GLOBALS, addServerTiming, callServe, deliverMail, deliverNotice, serveFetch } from './globals.js'

test('deliverMail and deliverNotice call hearthMailbox and pass its outcome on', async (t) => {
  const calls = []
  globalThis[GLOBALS.mailbox] = {
    version: 6,
    receive: async (from, sealed) => { calls.push(['receive', from, sealed]); if (from === 'busy') throw new Error('storage is busy') },
    notice: async (...args) => { calls.push(['notice', ...args]) }
  }
  t.after(() => { delete globalThis[GLOBALS.mailbox] })
  const sealed = new Uint8Array([1, 2, 3])
  await deliverMail('12D3KooWA', sealed)
  await deliverNotice('delivered', '12D3KooWB', 'txn1')
  await assert.rejects(deliverMail('busy', sealed), { message: 'storage is busy' })
  assert.deepEqual(calls, [['receive', '12D3KooWA', sealed], ['notice', 'delivered', '12D3KooWB', 'txn1'], ['receive', 'busy', sealed]])
})

test('without hearthMailbox, delivering is refused with a named error (the mail stays on the relay)', async () => {
  assert.equal(GLOBALS.mailbox, 'hearthMailbox')
  await assert.rejects(deliverMail('12D3KooWA', new Uint8Array(1)), { name: 'BridgeError', message: /hearthMailbox is not set/ })
  await assert.rejects(deliverNotice('expired', '12D3KooWB', 'txn1'), { name: 'BridgeError' })
})

test('serveFetch answers with Go\'s bytes as they are (a streamed body can hold off a new build)', async (t) => {
  const seen = []
  globalThis[GLOBALS.serve] = async ({ head, body }) => {
    const [method, url, peer, ...lines] = head.split('\n')
    const headers = []
    for (let i = 0; i < lines.length; i += 2) headers.push([lines[i], lines[i + 1]])
    seen.push({ method, url, peer, headers, body })
    const status = url.endsWith('/empty') ? 204 : 200
    return { head: `${status}\ncontent-type\napplication/json`, body: new TextEncoder().encode('{"ok":true}') }
  }
  const realResponse = globalThis.Response
  const bodies = []
  globalThis.Response = class extends realResponse {
    constructor (body, init) {
      bodies.push(body)
      super(body, init)
    }
  }
  t.after(() => {
    globalThis.Response = realResponse
    delete globalThis[GLOBALS.serve]
  })

  const res = await serveFetch(new Request('http://hearth.test/_matrix/client/v3/x', { method: 'PUT', body: 'hi', headers: { 'x-a': 'b' } }))
  assert.equal(res.status, 200)
  assert.equal(res.headers.get('content-type'), 'application/json')
  assert.match(res.headers.get('server-timing'), /^go;dur=\d+\.\d$/, 'Go\'s time is in Server-Timing')
  assert.ok(bodies[0] instanceof Uint8Array, `the body was handed to Response as ${bodies[0]?.constructor?.name}`)
  assert.equal(await res.text(), '{"ok":true}')
  assert.deepEqual(seen[0], { method: 'PUT', url: 'http://hearth.test/_matrix/client/v3/x', peer: '', headers: [['content-type', 'text/plain;charset=UTF-8'], ['x-a', 'b']], body: new TextEncoder().encode('hi') })

  // No body where Fetch allows none: HEAD, and null body statuses.
  assert.equal((await serveFetch(new Request('http://hearth.test/_matrix/client/v3/x', { method: 'HEAD' }))).body, null)
  assert.equal((await serveFetch(new Request('http://hearth.test/_matrix/client/v3/empty'))).status, 204)
})

test('callServe hands Go a head of lines and refuses one a line break would split', async (t) => {
  const heads = []
  globalThis[GLOBALS.serve] = async ({ head }) => {
    heads.push(head)
    return { head: '201\nx-a\n1\nx-b\n', body: new Uint8Array(0) }
  }
  t.after(() => { delete globalThis[GLOBALS.serve] })
  const answer = await callServe({ method: 'PUT', url: '/_matrix/federation/v1/send/1', headers: [['x-c', 'd']], peer: '12D3KooWA' }, null)
  assert.deepEqual(heads, ['PUT\n/_matrix/federation/v1/send/1\n12D3KooWA\nx-c\nd'])
  assert.deepEqual({ status: answer.status, headers: answer.headers }, { status: 201, headers: [['x-a', '1'], ['x-b', '']] })
  for (const bad of [{ headers: [['x-c', 'd\n12D3KooWB']] }, { url: '/a\rb' }, { method: 'GET\0' }, { headers: [['x-c', 5]] }]) {
    await assert.rejects(callServe({ method: 'GET', url: '/x', headers: [], ...bad }, null), { name: 'BridgeError' }, JSON.stringify(bad))
  }
  assert.equal(heads.length, 1, 'no refused head reached Go')
})

test('addServerTiming keeps every metric in one Server-Timing value (Chromium passes on only the first of repeated headers)', () => {
  const headers = new Headers([['Content-Type', 'application/json']])
  addServerTiming(headers, 'go', 0.44)
  addServerTiming(headers, 'worker', 1.25)
  assert.deepEqual([...headers], [['content-type', 'application/json'], ['server-timing', 'go;dur=0.4, worker;dur=1.3']])
})
