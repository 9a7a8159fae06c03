/**
 * The headless peer's HTTP front as a hostile page and a script see it
 * (issue 11, defect 9): registration needs the operator's token when one is
 * set, and only the front's own and configured origins may use the API.
 * Needs `npm run build` (dist/hearth.wasm).
 */
import '../p2p/node-env.js'
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { spawnPeer, tempRoot } from './harness.js'

const register = '/_matrix/client/v3/register'

test('registration needs the token when one is set; foreign origins are refused, configured ones get CORS', { timeout: 120000 }, async (t) => {
  const { root: dir, stopLater } = await tempRoot(t, 'hearth-policy-')
  const peer = await spawnPeer(join(dir, 'a'), ['--registration-token', 'tok3n', '--cors-origin', 'https://app.example.org'])
  stopLater(() => peer.stop())
  const post = async (body, headers = {}) => {
    const res = await fetch(peer.url + register, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) })
    return { status: res.status, headers: res.headers, body: await res.json() }
  }

  const flows = await post({ username: 'bot', password: 'pw' })
  assert.equal(flows.status, 401)
  assert.deepEqual(flows.body.flows, [{ stages: ['m.login.registration_token'] }])
  assert.equal((await post({ username: 'bot', password: 'pw', auth: { type: 'm.login.dummy' } })).status, 401)
  const wrong = await post({ username: 'bot', password: 'pw', auth: { type: 'm.login.registration_token', token: 'guess' } })
  assert.equal(wrong.body.errcode, 'M_FORBIDDEN')
  const done = await post({ username: 'bot', password: 'pw', auth: { type: 'm.login.registration_token', token: 'tok3n' } })
  assert.equal(done.status, 200, JSON.stringify(done.body))

  // A page elsewhere, even with the token, cannot use the API: no CORS, and refused outright.
  const evil = await post({ username: 'evil', password: 'pw', auth: { type: 'm.login.registration_token', token: 'tok3n' } }, { origin: 'https://evil.example' })
  assert.equal(evil.status, 403)
  assert.equal(evil.headers.get('access-control-allow-origin'), null)
  const preflight = await fetch(peer.url + register, { method: 'OPTIONS', headers: { origin: 'https://app.example.org' } })
  assert.equal(preflight.status, 200)
  assert.equal(preflight.headers.get('access-control-allow-origin'), 'https://app.example.org')
})

test('without options registration stays open (the dummy stage) and no origin but its own gets CORS', { timeout: 120000 }, async (t) => {
  const { root: dir, stopLater } = await tempRoot(t, 'hearth-policy-')
  const peer = await spawnPeer(join(dir, 'b'))
  stopLater(() => peer.stop())
  const res = await fetch(peer.url + register, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })
  assert.deepEqual((await res.json()).flows, [{ stages: ['m.login.dummy'] }])
  const foreign = await fetch(peer.url + '/_matrix/client/versions', { headers: { origin: 'https://evil.example' } })
  assert.equal(foreign.status, 403)
  assert.equal(foreign.headers.get('access-control-allow-origin'), null)
  const own = await fetch(peer.url + '/_matrix/client/versions', { headers: { origin: peer.url } })
  assert.equal(own.status, 200)
})
