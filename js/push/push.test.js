// hearthPush (js/push): Go's POSTs to push gateways, carried by fetch.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import { once } from 'node:events'
import { BRIDGE_VERSION, GLOBALS, provide } from '../bridge/globals.js'
import { createPushGateway, MAX_ANSWER_BYTES } from './index.js'

async function gateway (handler) {
  const server = createServer(handler)
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return { server, url: `http://127.0.0.1:${server.address().port}/_matrix/push/v1/notify` }
}

test('notify POSTs the bytes as JSON and resolves with the status and answer, whatever the status', { timeout: 10000 }, async (t) => {
  const seen = []
  let status = 200
  const { server, url } = await gateway((req, res) => {
    const chunks = []
    req.on('data', (c) => chunks.push(c))
    req.on('end', () => {
      seen.push({ method: req.method, path: req.url, type: req.headers['content-type'], body: Buffer.concat(chunks).toString() })
      res.writeHead(status, { 'Content-Type': 'application/json' })
      res.end(JSON.stringify({ rejected: status === 200 ? ['old-key'] : [] }))
    })
  })
  t.after(() => server.close())
  const push = createPushGateway()
  assert.equal(push.version, BRIDGE_VERSION)
  provide(GLOBALS.push, push) // a JS-owned global: provide accepts it
  t.after(() => { delete globalThis[GLOBALS.push] })

  const body = new TextEncoder().encode('{"notification":{"event_id":"$e"}}')
  const res = await push.notify(url, body)
  assert.equal(res.status, 200)
  assert.ok(res.body instanceof Uint8Array)
  assert.deepEqual(JSON.parse(new TextDecoder().decode(res.body)), { rejected: ['old-key'] })
  assert.deepEqual(seen, [{ method: 'POST', path: '/_matrix/push/v1/notify', type: 'application/json', body: '{"notification":{"event_id":"$e"}}' }])

  status = 503 // an answer, not a rejection: Go decides to retry
  assert.equal((await push.notify(url, body)).status, 503)
})

test('no answer rejects with PushNetworkError; an aborted signal with AbortError; long answers are cut', { timeout: 10000 }, async (t) => {
  const push = createPushGateway()
  const closed = await gateway(() => {})
  const deadURL = closed.url
  closed.server.close()
  await once(closed.server, 'close')
  await assert.rejects(push.notify(deadURL, new Uint8Array(2)), { name: 'PushNetworkError' })

  const { server, url } = await gateway((req, res) => {
    res.writeHead(200)
    res.end(Buffer.alloc(MAX_ANSWER_BYTES * 2, 'a'))
  })
  t.after(() => server.close({ force: true }))
  const long = await push.notify(url, new Uint8Array(2))
  assert.equal(long.body.byteLength, MAX_ANSWER_BYTES)

  const hanging = await gateway(() => { /* never answers */ })
  t.after(() => { hanging.server.closeAllConnections(); hanging.server.close() })
  const abort = new AbortController()
  const pending = push.notify(hanging.url, new Uint8Array(2), { signal: abort.signal })
  setTimeout(() => abort.abort(), 50)
  await assert.rejects(pending, { name: 'AbortError' })
})
