// The outgoing worker's side of an update (handover.js), without a browser:
// long-polls are refused once a newer worker is installed, those in flight
// included; everything else is served as before.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHandover, isLongPoll } from './handover.js'

/** A registration whose next install the test drives: install() makes a worker go 'installing' → 'installed'. */
function fakeRegistration () {
  const registration = new EventTarget()
  registration.waiting = null // Chromium's old worker never sees it set
  registration.installing = null
  registration.install = () => {
    const worker = new EventTarget()
    worker.state = 'installing'
    registration.installing = worker
    registration.dispatchEvent(new Event('updatefound'))
    worker.state = 'installed'
    worker.dispatchEvent(new Event('statechange'))
  }
  return registration
}

const sync = (timeout) => new Request(`http://site.test/_matrix/client/v3/sync?since=s1&timeout=${timeout}`)
const ok = async () => new Response('{}', { status: 200 })

test('only a /sync that may wait is a long-poll', () => {
  assert.equal(isLongPoll(sync(20000)), true)
  assert.equal(isLongPoll(sync(0)), false)
  assert.equal(isLongPoll(new Request('http://site.test/_matrix/client/v3/sync')), false)
  assert.equal(isLongPoll(new Request('http://site.test/_matrix/client/v3/rooms/!r/send/m.room.message/1?timeout=5', { method: 'PUT', body: '{}' })), false)
})

test('a long-poll in flight is answered with 503 when a newer worker installs, and later ones at once', async () => {
  const registration = fakeRegistration()
  const steppedAside = []
  const handover = createHandover(registration, { onStepAside: () => steppedAside.push(true) })
  let cancelled = null
  const waiting = (request, { signal }) => new Promise((resolve, reject) => {
    signal.addEventListener('abort', () => { cancelled = signal.aborted; reject(new Error('aborted')) })
  })
  const inFlight = handover.serve(sync(20000), waiting)
  await new Promise(resolve => setImmediate(resolve))
  assert.equal(handover.steppedAside(), false)
  registration.install()
  const answer = await inFlight
  assert.equal(answer.status, 503)
  assert.equal(answer.headers.get('Retry-After'), '1')
  assert.equal((await answer.json()).errcode, 'M_UNKNOWN')
  assert.equal(cancelled, true, 'Go kept long-polling for an answer nobody wanted')
  assert.equal((await handover.serve(sync(20000), waiting)).status, 503)
  assert.equal((await handover.serve(sync(0), ok)).status, 200, 'a sync that does not wait is still served')
  assert.deepEqual(steppedAside, [true], 'told once')
})

test('a worker that sees its own install does not step aside once active', async () => {
  const registration = fakeRegistration()
  const handover = createHandover(registration)
  registration.install() // its own first install: no long-poll can be in flight yet
  const self = registration.installing
  self.state = 'activated'
  self.dispatchEvent(new Event('statechange'))
  assert.equal((await handover.serve(sync(20000), ok)).status, 200)
  assert.equal(handover.steppedAside(), false)
})
