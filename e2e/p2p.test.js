/**
 * The browser peer: a headless Chromium page (Go and libp2p in its service
 * worker) and a headless peer (js/peer, in this process) on a local relay.
 * A federation request goes each way, answered by the other side's Go (its
 * signed key document), and a user in the browser and one on the headless
 * peer chat in one room; sharing it, they list each other within seconds,
 * and neither is told of a stranger on the relay. The headless peer then goes away
 * (requests to it fail fast) and comes back (found again); the service
 * worker is stopped as an idle one would be, and the page's keep-alive brings
 * it back onto the network.
 *
 * Run `npm run build` first; then `npm run test:browser`.
 */
import '../js/p2p/node-env.js'
import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { openBrowser, siteWithConfig, ARTIFACTS, DIST } from './browser.js'
import { steps } from './steps.js'
import { register, createRoom, STEP_TIMEOUT, BOOT_TIMEOUT } from './ui.js'
import { createRelay } from '../js/relay/index.js'
import { startPeer } from '../js/peer/index.js'
import { peerIdFromString } from '@libp2p/peer-id'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { createP2P } from '../js/p2p/index.js'

/** Discovery must take seconds, not the anchor's minutes. */
const DISCOVERY_TIMEOUT = 5000

const quiet = { log () {}, info () {}, warn () {} }

// The headless peer's Go runs in this process and cannot be stopped: its
// timers (WatchPeers' ticker, a federation request's deadline, queue
// back-offs) keep the process alive forever after the test. Results are
// reported by then; leave shortly after.
after(() => setTimeout(() => process.exit(), 2000).unref())

test('a browser and a headless peer find each other through the relay and federate both ways', { timeout: 240000 }, async (t) => {
  const relay = createRelay({ port: 0, logger: quiet })
  await relay.start()
  const relayAddr = relay.multiaddrs()[0]
  const siteDir = await siteWithConfig({ relay: relayAddr, debug: null })
  const peerDir = await mkdtemp(join(tmpdir(), 'hearth-e2e-peer-'))
  const startHeadless = () => startPeer({
    dataDir: peerDir, wasm: pathToFileURL(join(DIST, 'hearth.wasm')), relayAddrs: [relayAddr], http: { port: 0 }, logger: quiet
  })
  let peer = await startHeadless()
  // A peer sharing no room with either: presence must not tell them of it (issue 17).
  const stranger = createP2P({ privateKey: (await generateKeyPair('Ed25519')).raw, relayAddrs: [relayAddr], serve: async () => ({ status: 404, headers: [], body: new Uint8Array() }), logger: quiet })
  await stranger.start()
  t.after(() => stranger.stop())
  const env = await openBrowser({ name: 'p2p', dir: siteDir })
  t.signal.addEventListener('abort', () => { env.close() }, { once: true })
  let page
  const { run, explain } = steps(t, [env])
  const shot = (file) => page.screenshot({ path: join(ARTIFACTS, file), fullPage: true })
  /** Runs fn in the current service worker (a restarted worker is a new target). */
  const inWorker = async (fn, ...args) => {
    const target = env.browser.targets().find((t) => t.type() === 'service_worker')
    if (!target) throw new Error('no service worker is running')
    return (await target.worker()).evaluate(fn, ...args)
  }
  const workerRoundTrip = (peerId, path) => inWorker(async (peerId, path) => {
    try {
      const res = await globalThis.hearthP2P.roundTrip(peerId, {
        head: JSON.stringify({ method: 'GET', url: path, headers: [['accept', 'application/json']] }), body: null
      })
      return { head: res.head, body: new TextDecoder().decode(res.body) }
    } catch (err) {
      return { error: { name: err.name, message: err.message } }
    }
  }, peerId, path)

  let browserName
  try {
    await run('the page boots, shows its peer identity and goes online', async () => {
      page = await env.newPage()
      // localStorage.debug reaches libp2p in the worker through the page.
      await page.evaluateOnNewDocument(() => localStorage.setItem('debug', 'libp2p:circuit-relay*'))
      await page.goto(env.site.url, { waitUntil: 'domcontentloaded' })
      await page.waitForSelector('[data-testid=server-status][data-phase=ready]', { timeout: BOOT_TIMEOUT })
      await page.waitForSelector('[data-testid=network][data-state=online]', { timeout: STEP_TIMEOUT })
      browserName = await page.$eval('[data-testid=peer-id]', (e) => e.textContent)
      const status = await page.$eval('[data-testid=server-status]', (e) => e.textContent)
      assert.match(browserName, /^12D3KooW\w+$/)
      assert.ok(status.endsWith(`server ${browserName}`), `the peer ID ${browserName} is not the server name (${status})`)
    })

    await run('the worker asks the headless peer: its Go answers', async () => {
      const res = await workerRoundTrip(peer.serverName, '/_matrix/key/v2/server')
      assert.equal(res.error, undefined, JSON.stringify(res.error))
      assertKeyAnswer(res, peer.serverName)
    })

    await run('the headless peer asks the browser: the worker\'s Go answers', async () => {
      const res = await peer.p2p.roundTrip(browserName, {
        head: JSON.stringify({ method: 'GET', url: '/_matrix/key/v2/server', headers: [] }), body: null
      })
      assertKeyAnswer({ head: res.head, body: new TextDecoder().decode(res.body) }, browserName)
    })

    await run('Matrix over p2p: the browser invites the headless peer\'s user; they chat both ways', async () => {
      const bob = await peerClient(peer, 'bob')
      await register(page, 'alice', 'correct horse battery staple')
      await createRoom(page, { name: 'Across' })
      await page.waitForFunction(() => document.querySelector('[data-testid=room-title]').dataset.roomId, { timeout: STEP_TIMEOUT })
      const roomId = await page.$eval('[data-testid=room-title]', (e) => e.dataset.roomId)
      const invited = await page.evaluate(async (roomId, userId) => {
        const { accessToken } = JSON.parse(localStorage.getItem('hearth.session'))
        const res = await fetch(`/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/invite`, {
          method: 'POST', headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json' },
          body: JSON.stringify({ user_id: userId })
        })
        return { status: res.status, body: await res.text() }
      }, roomId, bob.userId)
      assert.equal(invited.status, 200, invited.body)
      await waitFor(async () => (await bob.call('GET', '/_matrix/client/v3/sync?timeout=0')).body.rooms?.invite?.[roomId],
        STEP_TIMEOUT, 'the invite never reached the headless peer')
      const joined = await bob.call('POST', `/_matrix/client/v3/join/${encodeURIComponent(roomId)}`, {})
      assert.equal(joined.status, 200, JSON.stringify(joined.body))
      const sent = await bob.call('PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/t1`,
        { msgtype: 'm.text', body: 'hello from the headless peer' })
      assert.equal(sent.status, 200, JSON.stringify(sent.body))
      await page.waitForFunction(() => [...document.querySelectorAll('[data-testid=message-body]')]
        .some((e) => e.textContent === 'hello from the headless peer'), { timeout: STEP_TIMEOUT })
      await page.type('[data-testid=composer-input]', 'hello from the browser')
      await page.click('[data-testid=composer-send]')
      await waitFor(async () => {
        const res = await bob.call('GET', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/messages?dir=b&limit=20`)
        return res.body.chunk?.some((e) => e.content?.body === 'hello from the browser')
      }, STEP_TIMEOUT, 'the browser\'s message never reached the headless peer')
      await shot('p2p-2-chat.png')
    })

    await run('sharing a room, both list each other within seconds; a stranger on the relay is listed by neither', async () => {
      await page.waitForSelector(`[data-testid=peer][data-peer-id="${peer.serverName}"]`, { timeout: DISCOVERY_TIMEOUT })
      await waitFor(() => peer.p2p.peers().includes(browserName), DISCOVERY_TIMEOUT, 'the headless peer does not list the browser')
      assert.deepEqual(await inWorker(() => globalThis.hearthP2P.peers()), [peer.serverName])
      assert.ok(relay.present().includes(stranger.peerId), 'the stranger is not on the relay')
      assert.ok(!peer.p2p.peers().includes(stranger.peerId), 'the headless peer was told of a stranger')
      await page.$eval('[data-testid=network]', (e) => { e.open = true })
      await shot('p2p-1-online.png')
    })

    await run('libp2p logs in the worker follow the page\'s localStorage.debug', async () => {
      assert.ok(env.logs.some((line) => line.includes(' [sw ') && line.includes('libp2p:circuit-relay')),
        'no libp2p:circuit-relay log line from the service worker')
    })

    await run('the headless peer goes away: requests fail fast and clearly, the page drops it', async () => {
      const gone = peer.serverName
      await peer.stop()
      peer = null
      await page.waitForSelector('[data-testid=peer]', { hidden: true, timeout: DISCOVERY_TIMEOUT })
      const began = Date.now()
      const res = await workerRoundTrip(gone, '/_matrix/key/v2/server')
      assert.equal(res.error?.name, 'PeerUnreachableError', JSON.stringify(res))
      assert.ok(Date.now() - began < 3000, `failing took ${Date.now() - began} ms`)
      await shot('p2p-3-peer-gone.png')
    })

    await run('the headless peer comes back: found again, and it answers', async () => {
      peer = await startHeadless()
      await page.waitForSelector(`[data-testid=peer][data-peer-id="${peer.serverName}"]`, { timeout: DISCOVERY_TIMEOUT })
      const res = await workerRoundTrip(peer.serverName, '/_matrix/federation/v1/version')
      assert.equal(res.error, undefined, JSON.stringify(res.error))
      assert.equal(JSON.parse(res.head).status, 200, res.body)
      assert.equal(typeof JSON.parse(res.body).server?.name, 'string', res.body)
    })

    await run('the worker is stopped as when idle: the keep-alive restarts it and it rejoins', async () => {
      // The peer hears of a leave only from peers it watches, and its Go names
      // them each second: the peer just came back, so wait until it sees the browser.
      for (const until = Date.now() + DISCOVERY_TIMEOUT; !peer.p2p.peers().includes(browserName);) {
        if (Date.now() > until) throw new Error('the peer that came back does not see the browser')
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
      const left = new Promise((resolve) => {
        const stop = peer.p2p.onPeers((e) => { if (e.type === 'leave' && e.peerId === browserName) { stop(); resolve() } })
      })
      await env.stopWorkers(page)
      await Promise.race([left, rejectAfter(DISCOVERY_TIMEOUT, 'the peer did not see the browser leave')])
      // No fetch from the test: the page's keep-alive message alone must bring the worker back.
      await peer.p2p.waitForPeer(browserName, { signal: AbortSignal.timeout(BOOT_TIMEOUT) })
      await page.waitForSelector(`[data-testid=peer][data-peer-id="${peer.serverName}"]`, { timeout: STEP_TIMEOUT })
      const res = await peer.p2p.roundTrip(browserName, {
        head: JSON.stringify({ method: 'GET', url: '/_matrix/key/v2/server', headers: [] }), body: null
      })
      assertKeyAnswer({ head: res.head, body: new TextDecoder().decode(res.body) }, browserName)
      await shot('p2p-4-after-worker-restart.png')
    })
  } catch (err) {
    throw await explain(err, [{ label: 'browser', env, page, screenshot: 'p2p-failure.png' }])
  } finally {
    await env.close()
    await peer?.stop()
    await relay.stop()
    await rm(siteDir, { recursive: true, force: true })
    await rm(peerDir, { recursive: true, force: true })
  }

})

/**
 * The answer to GET /_matrix/key/v2/server came from the named server's Go:
 * its key document names it and publishes the very key its peer ID encodes
 * (the JS layer's own answers are errors, never this).
 */
function assertKeyAnswer (res, serverName) {
  const head = JSON.parse(res.head)
  assert.equal(head.status, 200, res.body)
  const body = JSON.parse(res.body)
  assert.equal(body.server_name, serverName)
  const published = Buffer.from(body.verify_keys['ed25519:p2p'].key, 'base64')
  assert.deepEqual(new Uint8Array(published), peerIdFromString(serverName).publicKey.raw)
}

/** A Matrix user on the headless peer, over its HTTP client API. */
async function peerClient (peer, username) {
  const call = async (method, path, body, token = client.token) => {
    const res = await fetch(peer.url + path, {
      method,
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body)
    })
    return { status: res.status, body: await res.json() }
  }
  const client = { token: null, call }
  const registered = await call('POST', '/_matrix/client/v3/register', { username, password: 'secret', auth: { type: 'm.login.dummy' } })
  assert.equal(registered.status, 200, JSON.stringify(registered.body))
  client.token = registered.body.access_token
  client.userId = registered.body.user_id
  return client
}

async function waitFor (predicate, ms, message) {
  const deadline = Date.now() + ms
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(message)
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}


function rejectAfter (ms, message) {
  return new Promise((resolve, reject) => setTimeout(() => reject(new Error(message)), ms).unref())
}
