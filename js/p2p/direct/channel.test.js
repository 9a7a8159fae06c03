// channelStream against an in-memory pair of data channels: the framing and
// exchange code runs over it exactly as in a browser (which the e2e tests cover).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { channelStream } from './channel.js'
import { ask, answer } from '../exchange.js'
import { createInFlightBudget } from '../inflight.js'

/** Two connected fake RTCDataChannels with bufferedAmount that drains asynchronously. */
function channelPair () {
  const make = () => Object.assign(new EventTarget(), { readyState: 'open', bufferedAmount: 0, bufferedAmountLowThreshold: 0, binaryType: 'blob', sent: 0 })
  const a = make()
  const b = make()
  for (const [from, to] of [[a, b], [b, a]]) {
    from.send = (bytes) => {
      if (from.readyState !== 'open') throw new Error('InvalidStateError: not open')
      const copy = bytes.slice().buffer
      from.bufferedAmount += copy.byteLength
      from.sent++
      setTimeout(() => {
        from.bufferedAmount -= copy.byteLength
        if (from.bufferedAmount <= from.bufferedAmountLowThreshold) from.dispatchEvent(new Event('bufferedamountlow'))
        to.dispatchEvent(Object.assign(new Event('message'), { data: copy }))
      }, 0)
    }
    from.close = () => {
      if (from.readyState === 'closed') return
      setTimeout(() => {
        for (const side of [from, to]) {
          if (side.readyState === 'closed') continue
          side.readyState = 'closed'
          side.dispatchEvent(new Event('close'))
        }
      }, 0)
    }
  }
  return [a, b]
}

const serve = async (head, body) => ({
  status: 200,
  headers: [['content-type', 'application/octet-stream']],
  body: new Uint8Array([...new TextEncoder().encode(`${head.peer} ${head.method} ${head.url} `), ...body])
})
const timeouts = { read: 2000, serve: 2000 }
const budget = createInFlightBudget()
/** A request with a body must be X-Matrix signed by the peer it comes from (Go checks the signature). */
const signed = [['authorization', 'X-Matrix origin="PEER_A",destination="PEER_B",key="ed25519:p2p",sig="x"']]

test('a request and a 1 MiB body cross a data channel intact, in bounded chunks', async () => {
  const [asker, answerer] = channelPair()
  const body = new Uint8Array(1024 * 1024).map((_, i) => (i * 7) % 251)
  const answering = answer(channelStream(answerer), 'PEER_A', { serve, timeouts, budget })
  const res = await ask(channelStream(asker), {
    head: JSON.stringify({ method: 'PUT', url: '/_matrix/federation/v1/send/1', headers: signed }), body
  }, { peerId: 'PEER_B', timeoutMs: 5000 })
  await answering
  assert.equal(JSON.parse(res.head).status, 200)
  const prefix = new TextEncoder().encode('PEER_A PUT /_matrix/federation/v1/send/1 ')
  assert.deepEqual(res.body.subarray(0, prefix.length), prefix)
  assert.deepEqual(res.body.subarray(prefix.length), body)
  assert.ok(asker.sent >= 64, `sent in ${asker.sent} messages`)
})

test('the client API cannot be reached over a direct link either', async () => {
  const [asker, answerer] = channelPair()
  const answering = answer(channelStream(answerer), 'PEER_A', { serve, timeouts, budget })
  const res = await ask(channelStream(asker), {
    head: JSON.stringify({ method: 'GET', url: '/_matrix/federation/../client/v3/sync', headers: [] }), body: null
  }, { peerId: 'PEER_B', timeoutMs: 5000 })
  await answering
  assert.equal(JSON.parse(res.head).status, 403)
  assert.equal(JSON.parse(new TextDecoder().decode(res.body)).errcode, 'M_FORBIDDEN')
})

test('a head with a header that is not a pair of one-line strings is refused before Go sees it', async () => {
  for (const headers of [[['x-a', 'one\nhost'], ['x-b', 'b']], [['x-a']], [['x-a', 7]], ['x-a: b']]) {
    const [asker, answerer] = channelPair()
    let served = false
    const answering = answer(channelStream(answerer), 'PEER_A', { serve: async () => { served = true }, timeouts, budget })
    const res = await ask(channelStream(asker), {
      head: JSON.stringify({ method: 'GET', url: '/_matrix/key/v2/server', headers }), body: null
    }, { peerId: 'PEER_B', timeoutMs: 5000 })
    await answering
    assert.equal(JSON.parse(res.head).status, 400, JSON.stringify(headers))
    assert.equal(JSON.parse(new TextDecoder().decode(res.body)).errcode, 'M_BAD_JSON')
    assert.equal(served, false)
  }
})

test('a channel closed mid-response is a named error, not a hang', async () => {
  const [asker, answerer] = channelPair()
  const reading = (async () => {
    for await (const chunk of channelStream(answerer)) { void chunk; answerer.close(); break }
  })()
  await assert.rejects(ask(channelStream(asker), {
    head: JSON.stringify({ method: 'GET', url: '/_matrix/key/v2/server', headers: [] }), body: null
  }, { peerId: 'PEER_B', timeoutMs: 5000 }), { name: 'P2PProtocolError' })
  await reading
})

test('one channel carries exchange after exchange, nothing lost between them', async () => {
  const [asker, answerer] = channelPair()
  const answering = (async () => {
    const stream = channelStream(answerer)
    while (await stream.readable()) await answer(stream, 'PEER_A', { serve, timeouts, budget })
  })()
  const stream = channelStream(asker)
  for (let i = 0; i < 20; i++) {
    const body = new TextEncoder().encode(`request ${i}`.repeat(i * 500))
    const res = await ask(stream, { head: JSON.stringify({ method: 'PUT', url: `/_matrix/federation/v1/send/${i}`, headers: signed }), body },
      { peerId: 'PEER_B', timeoutMs: 5000 })
    assert.ok(new TextDecoder().decode(res.body).startsWith(`PEER_A PUT /_matrix/federation/v1/send/${i} `))
    assert.equal(res.body.byteLength, new TextEncoder().encode(`PEER_A PUT /_matrix/federation/v1/send/${i} `).byteLength + body.byteLength)
    assert.equal(stream.usable, true)
  }
  asker.close()
  await answering
})
