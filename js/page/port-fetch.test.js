// The page's client port (port-fetch.js) against the worker's side of it
// (sw/client-port.js) over real MessagePorts, without a browser: the worker's
// answer function stands in for Go.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createPortFetch } from './port-fetch.js'
import { createClient, MatrixError } from './matrix.js'
import { createClientPorts } from '../../sw/client-port.js'
import { MSG } from '../../sw/protocol.js'

const ORIGIN = 'http://site.test'
const tick = () => new Promise((resolve) => setTimeout(resolve, 5))
/**
 * Lets the messages already posted on ports arrive: they are handled in the
 * event loop's poll phase, which a timer (tick) can come before.
 */
const delivered = async () => {
  for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve))
}

/**
 * A controlling worker: answers client-port messages with createClientPorts
 * when it speaks the port, else ignores them as an older build does. Records
 * every request it is asked (seen).
 */
function fakeWorker ({ speaks = true, life = 1, build = 'b1', answer } = {}) {
  const seen = []
  const ports = createClientPorts({
    origin: ORIGIN,
    hello: { life, build },
    answer: async (request) => {
      seen.push({ method: request.method, path: new URL(request.url).pathname, request, body: await request.clone().text() })
      return (answer ?? defaultAnswer)(request)
    }
  })
  return {
    seen,
    life,
    build,
    postMessage (message, transfer = []) {
      if (!speaks) return
      if (message.type === MSG.clientHello) ports.hello(transfer[0])
      if (message.type === MSG.clientRequest) ports.serve(message.request, transfer[0])
    }
  }
}

async function defaultAnswer (request) {
  const headers = { 'Content-Type': 'application/json', 'Server-Timing': 'go;dur=1.0, worker;dur=1.2' }
  return new Response(JSON.stringify({ echo: new URL(request.url).pathname, auth: request.headers.get('authorization') }), { headers })
}

/** A ServiceWorkerContainer whose controller the test changes. */
function fakeContainer (controller) {
  const container = new EventTarget()
  container.controller = controller
  container.change = (next) => {
    container.controller = next
    container.dispatchEvent(new Event('controllerchange'))
  }
  return container
}

/** A real fetch stand-in that records what it was asked. */
function fakeFetch () {
  const asked = []
  const fetch = async (input, init) => {
    asked.push(String(input))
    return new Response('{"via":"fetch"}', { headers: { 'Content-Type': 'application/json' } })
  }
  return { asked, fetch }
}

/** Resolves once the transport got the worker's hello (requests then go on the port). */
async function untilPort (transport, worker) {
  for (let i = 0; i < 100; i++) {
    const before = worker.seen.length
    const res = await transport.fetch(`${ORIGIN}/_matrix/client/versions`)
    await res.text()
    if (worker.seen.length > before) return
    await tick()
  }
  throw new Error('the port never became usable')
}

test('client API requests go over the port once the worker said hello; answers keep status, headers and body', async () => {
  const worker = fakeWorker()
  const real = fakeFetch()
  const transport = createPortFetch({ container: fakeContainer(worker), fetch: real.fetch, origin: ORIGIN })
  try {
    await untilPort(transport, worker)
    const fetchedBefore = real.asked.length
    const client = createClient({ baseUrl: ORIGIN, fetch: transport.fetch, accessToken: 'tok' })
    const sent = await client.sendEvent('!r:x', 'm.room.message', 't1', { body: 'hi' })
    assert.deepEqual(sent, { echo: '/_matrix/client/v3/rooms/!r%3Ax/send/m.room.message/t1', auth: 'Bearer tok' })
    const last = worker.seen.at(-1)
    assert.equal(last.method, 'PUT')
    assert.equal(last.body, '{"body":"hi"}')
    assert.equal(last.request.headers.get('content-type'), 'application/json')

    const res = await transport.fetch(`${ORIGIN}/_matrix/client/versions`)
    assert.equal(res.headers.get('server-timing'), 'go;dur=1.0, worker;dur=1.2')
    assert.equal(real.asked.length, fetchedBefore, 'a client API request went to fetch')

    // Media stays on fetch (downloads are URLs, uploads XMLHttpRequest).
    await transport.fetch(`${ORIGIN}/_matrix/media/v3/download/x/y`)
    assert.equal(real.asked.at(-1), `${ORIGIN}/_matrix/media/v3/download/x/y`)
  } finally {
    transport.close()
  }
})

test('Matrix errors from the worker reach the client as MatrixError, with status and errcode', async () => {
  const worker = fakeWorker({
    answer: async () => new Response('{"errcode":"M_FORBIDDEN","error":"no"}', { status: 403, headers: { 'Content-Type': 'application/json' } })
  })
  const transport = createPortFetch({ container: fakeContainer(worker), fetch: fakeFetch().fetch, origin: ORIGIN })
  try {
    await untilPort(transport, worker)
    const client = createClient({ baseUrl: ORIGIN, fetch: transport.fetch })
    await assert.rejects(client.joinedRooms(), (err) => err instanceof MatrixError && err.status === 403 && err.errcode === 'M_FORBIDDEN')
  } finally {
    transport.close()
  }
})

test('a worker that does not speak the port is used over fetch', async () => {
  const worker = fakeWorker({ speaks: false })
  const real = fakeFetch()
  const transport = createPortFetch({ container: fakeContainer(worker), fetch: real.fetch, origin: ORIGIN })
  try {
    await tick()
    for (let i = 0; i < 3; i++) assert.deepEqual(await (await transport.fetch(`${ORIGIN}/_matrix/client/v3/sync?timeout=0`)).json(), { via: 'fetch' })
    assert.equal(real.asked.length, 3)
    assert.equal(worker.seen.length, 0)
  } finally {
    transport.close()
  }
})

test('when the controller changes, a pending request fails with a TypeError and the next one goes to the new worker', async () => {
  let release
  const stuck = new Promise((resolve) => { release = resolve })
  const old = fakeWorker({ life: 1, build: 'old', answer: async (request) => new URL(request.url).pathname.endsWith('/slow') ? stuck : defaultAnswer(request) })
  const container = fakeContainer(old)
  const transport = createPortFetch({ container, fetch: fakeFetch().fetch, origin: ORIGIN })
  try {
    await untilPort(transport, old)
    const pending = transport.fetch(`${ORIGIN}/_matrix/client/v3/slow`, { method: 'POST', body: '{}' })
    await tick()
    const next = fakeWorker({ life: 2, build: 'new' })
    container.change(next)
    await assert.rejects(pending, TypeError)
    release(new Response('{}')) // the old worker's late answer goes nowhere
    await untilPort(transport, next)
    assert.deepEqual(await (await transport.fetch(`${ORIGIN}/_matrix/client/v3/joined_rooms`)).json(), { echo: '/_matrix/client/v3/joined_rooms', auth: null })
    assert.equal(next.seen.at(-1).path, '/_matrix/client/v3/joined_rooms')
  } finally {
    transport.close()
  }
})

test('a new life of the same worker fails what the old life accepted, not what woke the new one', async () => {
  // It answers only the requests that find its port; the others never.
  const first = fakeWorker({ life: 1, build: 'b', answer: (request) => request.url.endsWith('/versions') ? defaultAnswer(request) : new Promise(() => {}) })
  const container = fakeContainer(first)
  const transport = createPortFetch({ container, fetch: fakeFetch().fetch, origin: ORIGIN })
  try {
    await untilPort(transport, first) // one tick was not always enough on a loaded machine
    const seen = first.seen.length
    transport.workerStatus({ life: 1, build: 'b', seq: 3 })
    const lost = transport.fetch(`${ORIGIN}/_matrix/client/v3/joined_rooms`)
    for (let i = 0; i < 100 && first.seen.length === seen; i++) await tick()
    assert.equal(first.seen.length, seen + 1)
    // The browser stopped it. A request posted now waits for the next life,
    // whose status reaches the page before that life takes the request.
    const queued = []
    first.postMessage = (message, transfer) => queued.push([message, transfer])
    const woke = transport.fetch(`${ORIGIN}/_matrix/client/v3/account/whoami`)
    const restarted = fakeWorker({ life: 5, build: 'b' })
    transport.workerStatus({ life: 1, build: 'b', seq: 2 }) // a late status of the old life changes nothing
    transport.workerStatus({ life: 5, build: 'b', seq: 1 })
    await assert.rejects(lost, TypeError)
    for (const [message, transfer] of queued) restarted.postMessage(message, transfer)
    first.postMessage = restarted.postMessage
    const answer = await woke
    assert.equal(answer.status, 200)
    assert.equal(restarted.seen.at(-1).path, '/_matrix/client/v3/account/whoami')
    await untilPort(transport, restarted)
  } finally {
    transport.close()
  }
})

/** A LockManager whose locks the test releases: end(name) grants the waiting request. */
function fakeLocks () {
  const waiting = new Map()
  return {
    request (name, options, callback) {
      return new Promise((resolve) => waiting.set(name, () => resolve(callback())))
    },
    end (name) { waiting.get(name)?.() }
  }
}

test('with locks, what the old controller accepted is still answered after a change, and fails only when that life ends; what it never accepted fails at once', async () => {
  const answers = new Map()
  const held = (request) => new Promise((resolve) => answers.set(new URL(request.url).pathname.split('/').pop(), resolve))
  const old = fakeWorker({ life: 1, build: 'old', answer: (request) => request.url.includes('/held/') ? held(request) : defaultAnswer(request) })
  const container = fakeContainer(old)
  const locks = fakeLocks()
  const transport = createPortFetch({ container, fetch: fakeFetch().fetch, origin: ORIGIN, locks })
  try {
    await untilPort(transport, old)
    const answered = transport.fetch(`${ORIGIN}/_matrix/client/v3/held/createRoom`, { method: 'POST', body: '{}' })
    const ended = transport.fetch(`${ORIGIN}/_matrix/client/v3/held/sync`)
    for (let i = 0; i < 100 && answers.size < 2; i++) await tick()
    assert.equal(answers.size, 2, 'the old worker took both')
    await delivered() // and the page heard that it did
    // A request the old worker never takes (it is on its way out).
    old.postMessage = () => {}
    const untaken = transport.fetch(`${ORIGIN}/_matrix/client/v3/joined_rooms`)
    const settled = new Set()
    answered.then(() => settled.add('answered'), () => settled.add('answered'))
    ended.then(() => settled.add('ended'), () => settled.add('ended'))

    container.change(fakeWorker({ life: 2, build: 'new' }))
    await assert.rejects(untaken, (err) => err instanceof TypeError && /changed/.test(err.message))
    await tick()
    assert.deepEqual([...settled], [], 'what the old worker accepted still waits for its answer')

    answers.get('createRoom')(new Response('{"room_id":"!made:here"}', { headers: { 'Content-Type': 'application/json' } }))
    assert.deepEqual(await (await answered).json(), { room_id: '!made:here' })
    locks.end('hearth-life-1')
    await assert.rejects(ended, (err) => err instanceof TypeError && /restarted/.test(err.message))
  } finally {
    transport.close()
  }
})

test('when a life ends (its lock released) what it accepted fails at once, without waiting for a status', async () => {
  const worker = fakeWorker({ life: 3, build: 'b', answer: (request) => request.url.includes('/sync') ? new Promise(() => {}) : defaultAnswer(request) })
  const locks = fakeLocks()
  const transport = createPortFetch({ container: fakeContainer(worker), fetch: fakeFetch().fetch, origin: ORIGIN, locks })
  try {
    await untilPort(transport, worker)
    const poll = transport.fetch(`${ORIGIN}/_matrix/client/v3/sync?timeout=30000`)
    let settled = false
    poll.then(() => { settled = true }, () => { settled = true })
    for (let i = 0; i < 100 && !worker.seen.some((r) => r.path.endsWith('/sync')); i++) await tick()
    await tick()
    assert.equal(settled, false, 'a long-poll waits while its life runs')
    locks.end('hearth-life-3')
    await assert.rejects(poll, (err) => err instanceof TypeError && /restarted/.test(err.message))
  } finally {
    transport.close()
  }
})

test('an aborted request rejects with the signal\'s AbortError and Go is told to stop', async () => {
  let goSignal = null
  const worker = fakeWorker({
    answer: (request) => {
      if (!request.url.includes('/sync')) return defaultAnswer(request)
      goSignal = request.signal
      return new Promise(() => {})
    }
  })
  const transport = createPortFetch({ container: fakeContainer(worker), fetch: fakeFetch().fetch, origin: ORIGIN })
  try {
    await untilPort(transport, worker)
    for (const timeout of [0, 30000]) {
      goSignal = null
      const cut = new AbortController()
      const pending = transport.fetch(`${ORIGIN}/_matrix/client/v3/sync?timeout=${timeout}`, { signal: cut.signal })
      for (let i = 0; i < 100 && goSignal === null; i++) await tick()
      cut.abort()
      await assert.rejects(pending, (err) => err.name === 'AbortError')
      for (let i = 0; i < 50 && !goSignal.aborted; i++) await tick()
      assert.equal(goSignal.aborted, true, `timeout=${timeout}: the worker kept serving an aborted request`)
    }
    const already = new AbortController()
    already.abort()
    await assert.rejects(transport.fetch(`${ORIGIN}/_matrix/client/versions`, { signal: already.signal }), (err) => err.name === 'AbortError')
  } finally {
    transport.close()
  }
})

test('a /sync long-poll that waits does not hold up other requests', async () => {
  let wake
  const news = new Promise((resolve) => { wake = resolve })
  const worker = fakeWorker({
    answer: async (request) => {
      if (new URL(request.url).pathname.endsWith('/sync')) {
        await news
        return new Response('{"next_batch":"s2"}', { headers: { 'Content-Type': 'application/json' } })
      }
      return defaultAnswer(request)
    }
  })
  const transport = createPortFetch({ container: fakeContainer(worker), fetch: fakeFetch().fetch, origin: ORIGIN })
  try {
    await untilPort(transport, worker)
    const client = createClient({ baseUrl: ORIGIN, fetch: transport.fetch })
    const poll = client.sync({ since: 's1', timeout: 30000 })
    for (let i = 0; i < 5; i++) await client.sendEvent('!r:x', 'm.room.message', `t${i}`, { body: String(i) })
    assert.deepEqual(worker.seen.slice(-6).map((s) => s.path.split('/')[4]), ['sync', 'rooms', 'rooms', 'rooms', 'rooms', 'rooms'])
    wake()
    assert.deepEqual(await poll, { next_batch: 's2' })
  } finally {
    transport.close()
  }
})

test('while a newer worker waits to take over, requests are held and then go to it; one aborted meanwhile is never sent', async () => {
  const old = fakeWorker({ life: 1, build: 'old' })
  const container = fakeContainer(old)
  let takeover = null
  const real = fakeFetch()
  const transport = createPortFetch({ container, fetch: real.fetch, origin: ORIGIN, untilTakeover: () => takeover?.promise ?? null })
  try {
    await untilPort(transport, old)
    const oldSaw = old.seen.length
    const fetched = real.asked.length
    let taken
    takeover = { promise: new Promise((resolve) => { taken = resolve }) }
    const held = transport.fetch(`${ORIGIN}/_matrix/client/v3/joined_rooms`)
    const abort = new AbortController()
    const abandoned = transport.fetch(`${ORIGIN}/_matrix/client/v3/sync`, { signal: abort.signal })
    abort.abort()
    await assert.rejects(abandoned, { name: 'AbortError' })
    await assert.rejects(transport.fetch(`${ORIGIN}/_matrix/client/v3/sync`, { signal: abort.signal }), { name: 'AbortError' }) // aborted before it was held
    for (let i = 0; i < 10; i++) await tick()
    assert.equal(old.seen.length, oldSaw, 'the old worker got a request while the new one waited')

    // The controller changes: what was held goes out (by fetch until the new worker's hello).
    const next = fakeWorker({ life: 2, build: 'new' })
    container.change(next)
    taken()
    takeover = null
    assert.equal((await held).status, 200)
    assert.deepEqual(real.asked.slice(fetched).map((url) => new URL(url).pathname), ['/_matrix/client/v3/joined_rooms'])
    await untilPort(transport, next)
    assert.equal(old.seen.length, oldSaw)
  } finally {
    transport.close()
  }
})
