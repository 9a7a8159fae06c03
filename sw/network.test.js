// The worker's network status from config.json, under Node (the browser run
// is e2e/p2p.test.js): no relay means 'off', a bad config means 'failed' with
// a reason the page can show, a relay means 'online' as the server's identity.
import '../js/p2p/node-env.js'
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { createRelay } from '../js/relay/index.js'
import { createNetwork, readNetworkConfig } from './network.js'

const quiet = { info () {}, warn () {} }

async function identity () {
  const key = await generateKeyPair('Ed25519')
  return { signingKey: key.raw, serverName: peerIdFromPrivateKey(key).toString() }
}

function serving (config, status = 200) {
  return async () => new Response(JSON.stringify(config), { status })
}

async function startWith (fetch, id) {
  const seen = []
  const network = createNetwork({ configURL: 'https://hearth.invalid/config.json', ...id, logger: quiet, onStatus: s => seen.push(s) }, { fetch })
  await network.start()
  return { network, seen }
}

test('config.json decides: no relay is off; unreadable or bad relay is failed, with the reason', async () => {
  const id = await identity()
  assert.equal((await startWith(serving({ relay: null }), id)).network.status().state, 'off')
  const missing = (await startWith(serving({}, 404), id)).network.status()
  assert.deepEqual(missing, { state: 'failed', error: 'cannot read config.json: HTTP 404' })
  const bad = (await startWith(serving({ relay: '/ip4/127.0.0.1/tcp/8081/ws' }), id)).network.status()
  assert.equal(bad.state, 'failed')
  assert.match(bad.error, /not a multiaddr ending in \/p2p\/<relay peer ID>/)
})

test('a config.json read before start is used as read: nothing is fetched again, and its failure is the status', async () => {
  const id = await identity()
  const fetched = []
  const fetch = async (url) => { fetched.push(url); return new Response('{}') }
  const start = async (config) => {
    const network = createNetwork({ configURL: 'https://hearth.invalid/config.json', config, ...id, logger: quiet, onStatus () {} }, { fetch })
    await network.start()
    return network.status()
  }
  assert.equal((await start(readNetworkConfig('https://hearth.invalid/config.json', serving({ relay: null })))).state, 'off')
  const failed = readNetworkConfig('https://hearth.invalid/config.json', serving({}, 404))
  failed.catch(() => {})
  assert.deepEqual(await start(failed), { state: 'failed', error: 'cannot read config.json: HTTP 404' })
  assert.deepEqual(fetched, [])
})

test('a relay in config.json: online as the server name, with the peers Go watches there', { timeout: 20_000 }, async (t) => {
  const relay = createRelay({ port: 0, logger: quiet })
  await relay.start()
  t.after(() => relay.stop())
  const [a, b] = await Promise.all([identity(), identity()])
  const config = serving({ relay: relay.multiaddrs()[0], debug: null })
  const first = await startWith(config, a)
  // Go asks about the servers it shares rooms with, through hearthP2P.peers(watch).
  assert.deepEqual(globalThis.hearthP2P.peers([b.serverName]), [])
  const second = await startWith(config, b)
  t.after(() => Promise.all([first.network.stop(), second.network.stop()]))
  const deadline = Date.now() + 5000
  while (first.network.status().peers?.length !== 1) {
    assert.ok(Date.now() < deadline, `never saw the other peer: ${JSON.stringify(first.network.status())}`)
    await new Promise(resolve => setTimeout(resolve, 20))
  }
  assert.deepEqual(first.network.status(), {
    state: 'online', peerId: a.serverName, relays: [{ addr: relay.multiaddrs()[0], peerId: relay.peerId, online: true, learned: false, offers: ['presence', 'routing'], presence: true, mailbox: false }], peers: [b.serverName], direct: []
  })
  assert.deepEqual(first.seen.map(s => s.state).slice(0, 2), ['starting', 'connecting'])
})

test('a key that is not the server name is refused', async () => {
  const [a, b] = await Promise.all([identity(), identity()])
  const { network } = await startWith(serving({ relay: '/ip4/127.0.0.1/tcp/1/ws/p2p/' + a.serverName }),
    { signingKey: a.signingKey, serverName: b.serverName })
  assert.equal(network.status().state, 'failed')
  assert.match(network.status().error, /is not the server name/)
})

test('a second worker with the same identity is refused: state duplicate, with the reason; the first stays online', { timeout: 20_000 }, async (t) => {
  const relay = createRelay({ port: 0, logger: quiet })
  await relay.start()
  t.after(() => relay.stop())
  const id = await identity()
  const config = serving({ relay: relay.multiaddrs()[0], debug: null })
  const first = await startWith(config, id)
  t.after(() => first.network.stop())
  const until = async (check, what) => {
    const deadline = Date.now() + 10000
    while (!check()) {
      assert.ok(Date.now() < deadline, `timed out waiting for ${what}`)
      await new Promise(resolve => setTimeout(resolve, 20))
    }
  }
  await until(() => first.network.status().state === 'online', 'the first copy online')
  const second = await startWith(config, id)
  t.after(() => second.network.stop())
  await until(() => second.network.status().state === 'duplicate', 'the second copy refused')
  assert.match(second.network.status().error, /another copy of this server .* is already online/)
  assert.ok(!second.seen.some(s => s.state === 'online'), 'the second copy was online for a while')
  await new Promise(resolve => setTimeout(resolve, 300))
  assert.equal(first.network.status().state, 'online')
  assert.deepEqual(relay.present(), [id.serverName])
})
