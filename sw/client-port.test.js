// The worker's side of the client port without a browser: a hello for a page
// that asks, then for each request on its own port which life accepted it and
// one answer, errors as
// Matrix error JSON, bodies as transferred ArrayBuffers, aborts reaching Go.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { GLOBALS, serveFetch } from '../js/bridge/globals.js'
import { createClientPorts } from './client-port.js'

const ORIGIN = 'http://site.test'

/** Sends one request message as the page does; resolves to every message its port got, once the worker closed it. */
function ask (ports, message, transfer = []) {
  const { port1, port2 } = new MessageChannel()
  const got = []
  const done = new Promise((resolve) => {
    port1.onmessage = (event) => got.push(event.data)
    port1.addEventListener('close', () => resolve(got))
  })
  const served = ports.serve(message, port2)
  return { done, served, port: port1 }
}

test('says hello on the port it is given, then closes it', async () => {
  const ports = createClientPorts({ origin: ORIGIN, hello: { life: 7, build: 'b' }, answer: async () => new Response('{}') })
  const { port1, port2 } = new MessageChannel()
  const got = new Promise((resolve) => { port1.onmessage = (event) => resolve(event.data) })
  ports.hello(port2)
  assert.deepEqual(await got, { hello: { life: 7, build: 'b' } })
  port1.close()
})

test('answers a request once, by id, through the fetch path, with status, headers and body', async () => {
  const asked = []
  const ports = createClientPorts({
    origin: ORIGIN,
    hello: { life: 7, build: 'b' },
    answer: async (request) => {
      asked.push({ method: request.method, url: request.url, auth: request.headers.get('authorization'), body: await request.text() })
      return new Response('{"ok":true}', { status: 200, headers: { 'Content-Type': 'application/json', 'Server-Timing': 'go;dur=2.0' } })
    }
  })
  const body = new TextEncoder().encode('{"a":1}').buffer
  const { done } = ask(ports, { id: 3, method: 'PUT', url: `${ORIGIN}/_matrix/client/v3/x`, headers: [['authorization', 'Bearer t']], body }, [body])
  const [accepted, answer, ...more] = await done
  assert.deepEqual(accepted, { id: 3, accepted: 7 }, 'the life that took it says so first')
  assert.deepEqual(more, [], 'one answer per request')
  assert.equal(answer.id, 3)
  assert.equal(answer.status, 200)
  assert.ok(answer.body instanceof ArrayBuffer)
  assert.equal(new TextDecoder().decode(answer.body), '{"ok":true}')
  assert.equal(new Headers(answer.headers).get('server-timing'), 'go;dur=2.0')
  assert.deepEqual(asked, [{ method: 'PUT', url: `${ORIGIN}/_matrix/client/v3/x`, auth: 'Bearer t', body: '{"a":1}' }])
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
  const cases = [
    [{ id: 1, method: 'GET', url: 'http://elsewhere.test/_matrix/client/versions', headers: [] }, 404, 'M_UNRECOGNIZED'],
    [{ id: 2, method: 'GET', url: `${ORIGIN}/index.html`, headers: [] }, 404, 'M_UNRECOGNIZED'],
    [{ id: 3, method: 'GET', url: 'not a url', headers: [] }, 400, 'M_BAD_JSON'],
    [{ id: 4, method: 'GET', url: `${ORIGIN}/_matrix/client/v3/boom`, headers: [] }, 500, 'M_UNKNOWN']
  ]
  for (const [message, status, errcode] of cases) {
    const [, answer] = await ask(ports, message).done
    assert.equal(answer.status, status, message.url)
    assert.equal(JSON.parse(new TextDecoder().decode(answer.body)).errcode, errcode, message.url)
  }
})

test('an abort from the page cancels Go\'s work on it, and no answer comes', async () => {
  let goSignal = null
  const ports = createClientPorts({
    origin: ORIGIN,
    hello: { life: 1, build: 'b' },
    answer: (request) => new Promise((resolve, reject) => {
      goSignal = request.signal
      request.signal.addEventListener('abort', () => reject(new Error('cancelled')))
    })
  })
  const { done, served, port } = ask(ports, { id: 9, method: 'GET', url: `${ORIGIN}/_matrix/client/v3/sync?timeout=30000`, headers: [] })
  for (let i = 0; i < 100 && goSignal === null; i++) await new Promise((resolve) => setTimeout(resolve, 5))
  port.postMessage({ id: 9, abort: true })
  await served
  assert.equal(goSignal.aborted, true)
  assert.deepEqual(await done, [{ id: 9, accepted: 1 }], 'accepted, and no answer')
})

test('Go\'s answer leaves as the bytes Go gave, without reading the Response again (a read waits for a browser task, and Go builds a woken /sync first)', async (t) => {
  globalThis[GLOBALS.serve] = async () => ({
    head: '200\nContent-Type\napplication/json',
    body: new TextEncoder().encode('{"event_id":"$e"}')
  })
  t.after(() => { delete globalThis[GLOBALS.serve] })
  const ports = createClientPorts({
    origin: ORIGIN,
    hello: { life: 1, build: 'b' },
    answer: async (request) => {
      const response = await serveFetch(request)
      response.arrayBuffer = response.text = () => Promise.reject(new Error('the body was read again'))
      return response
    }
  })
  const [, answer] = await ask(ports, { id: 5, method: 'PUT', url: `${ORIGIN}/_matrix/client/v3/rooms/r/send/m.room.message/1`, headers: [], body: new ArrayBuffer(2) }).done
  assert.equal(answer.status, 200, new TextDecoder().decode(answer.body ?? new ArrayBuffer(0)))
  assert.equal(new TextDecoder().decode(answer.body), '{"event_id":"$e"}')
})

test('a request\'s body reaches Go as the bytes the page sent, without reading the Request (a read waits for a browser task before Go sees the send)', async (t) => {
  const seen = []
  globalThis[GLOBALS.serve] = async ({ body }) => {
    seen.push(new TextDecoder().decode(body))
    return { head: '200', body: new TextEncoder().encode('{}') }
  }
  t.after(() => { delete globalThis[GLOBALS.serve] })
  const ports = createClientPorts({
    origin: ORIGIN,
    hello: { life: 1, build: 'b' },
    answer: async (request) => {
      request.arrayBuffer = request.text = () => Promise.reject(new Error('the body was read'))
      return serveFetch(request)
    }
  })
  const body = new TextEncoder().encode('{"body":"hi"}').buffer
  const [, answer] = await ask(ports, { id: 6, method: 'PUT', url: `${ORIGIN}/_matrix/client/v3/rooms/r/send/m.room.message/2`, headers: [], body }, [body]).done
  assert.equal(answer.status, 200, new TextDecoder().decode(answer.body ?? new ArrayBuffer(0)))
  assert.deepEqual(seen, ['{"body":"hi"}'])
})

test('the life is named (hello, accepted) only once it holds its lock: a page that asked for the lock first would take the life for ended', async () => {
  let held
  const lifeLockHeld = new Promise((resolve) => { held = resolve })
  const ports = createClientPorts({ origin: ORIGIN, hello: { life: 4, build: 'b' }, lifeLockHeld, answer: async () => new Response('{}') })
  const { port1, port2 } = new MessageChannel()
  const said = []
  port1.onmessage = (event) => said.push(event.data)
  const helloSaid = ports.hello(port2)
  const { done } = ask(ports, { id: 1, method: 'GET', url: `${ORIGIN}/_matrix/client/versions`, headers: [] })
  const got = []
  done.then((messages) => got.push(...messages))
  await new Promise((resolve) => setTimeout(resolve, 50))
  assert.deepEqual(said, [], 'no hello before the lock is held')
  assert.deepEqual(got, [], 'no accepted before the lock is held')
  held()
  await helloSaid
  await done
  assert.deepEqual(said, [{ hello: { life: 4, build: 'b' } }])
  assert.deepEqual(got[0], { id: 1, accepted: 4 })
  port1.close()
})
