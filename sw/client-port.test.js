// The worker's side of the client port without a browser: one answer per
// request, errors as Matrix error JSON, bodies as transferred ArrayBuffers.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createClientPorts } from './client-port.js'

const ORIGIN = 'http://site.test'

/** A page's end of an accepted port: request(message) resolves to the answer message with that id. */
function openPort (ports) {
  const { port1, port2 } = new MessageChannel()
  const waiting = new Map()
  const messages = []
  port1.onmessage = (event) => {
    messages.push(event.data)
    waiting.get(event.data.id)?.(event.data)
  }
  ports.accept(port2)
  return {
    messages,
    request: (message, transfer = []) => new Promise((resolve) => {
      waiting.set(message.id, resolve)
      port1.postMessage(message, transfer)
    }),
    close: () => port1.close()
  }
}

test('says hello first, then answers each request once, by id, through the fetch path', async () => {
  const asked = []
  const ports = createClientPorts({
    origin: ORIGIN,
    hello: { life: 7, build: 'b' },
    answer: async (request) => {
      asked.push({ method: request.method, url: request.url, auth: request.headers.get('authorization'), body: await request.text() })
      return new Response('{"ok":true}', { status: 200, headers: { 'Content-Type': 'application/json', 'Server-Timing': 'go;dur=2.0' } })
    }
  })
  const page = openPort(ports)
  try {
    const body = new TextEncoder().encode('{"a":1}').buffer
    const answer = await page.request({ id: 3, method: 'PUT', url: `${ORIGIN}/_matrix/client/v3/x`, headers: [['authorization', 'Bearer t']], body }, [body])
    assert.deepEqual(page.messages[0], { hello: { life: 7, build: 'b' } })
    assert.equal(answer.status, 200)
    assert.ok(answer.body instanceof ArrayBuffer)
    assert.equal(new TextDecoder().decode(answer.body), '{"ok":true}')
    assert.deepEqual(new Headers(answer.headers).get('server-timing'), 'go;dur=2.0')
    assert.deepEqual(asked, [{ method: 'PUT', url: `${ORIGIN}/_matrix/client/v3/x`, auth: 'Bearer t', body: '{"a":1}' }])
    assert.equal(page.messages.length, 2, 'one answer per request')
  } finally {
    page.close()
  }
})

test('what is not this origin\'s server, a malformed message and a failing server each get a Matrix error, not silence', async () => {
  const ports = createClientPorts({
    origin: ORIGIN,
    hello: { life: 1, build: 'b' },
    answer: async (request) => {
      if (request.url.endsWith('/boom')) throw new Error('boom')
      return new Response('{}')
    }
  })
  const page = openPort(ports)
  try {
    const cases = [
      [{ id: 1, method: 'GET', url: 'http://elsewhere.test/_matrix/client/versions', headers: [] }, 404, 'M_UNRECOGNIZED'],
      [{ id: 2, method: 'GET', url: `${ORIGIN}/index.html`, headers: [] }, 404, 'M_UNRECOGNIZED'],
      [{ id: 3, method: 'GET', url: 'not a url', headers: [] }, 400, 'M_BAD_JSON'],
      [{ id: 4, method: 'GET', url: `${ORIGIN}/_matrix/client/v3/boom`, headers: [] }, 500, 'M_UNKNOWN']
    ]
    for (const [message, status, errcode] of cases) {
      const answer = await page.request(message)
      assert.equal(answer.status, status, message.url)
      assert.equal(JSON.parse(new TextDecoder().decode(answer.body)).errcode, errcode, message.url)
    }
  } finally {
    page.close()
  }
})
