import { test } from 'node:test'
import assert from 'node:assert/strict'
import { connectPort, PortClosedError } from './rpc.js'

test('calls go both ways and errors keep their name', async () => {
  const { port1, port2 } = new MessageChannel()
  const a = connectPort(port1, { add: (x, y) => x + y })
  const b = connectPort(port2, {
    echo: (bytes) => bytes,
    fail: () => { throw Object.assign(new Error('no page'), { name: 'DirectUnavailableError' }) }
  })
  assert.equal(await b.call('add', [2, 3]), 5)
  assert.deepEqual(await a.call('echo', [new Uint8Array([1, 2, 3])]), new Uint8Array([1, 2, 3]))
  await assert.rejects(a.call('fail', []), { name: 'DirectUnavailableError', message: 'no page' })
  await assert.rejects(a.call('missing', []), { name: 'TypeError' })
  a.close()
  b.close()
})

test('a side that never acknowledges is declared gone quickly, and pending calls fail', async () => {
  const { port1, port2 } = new MessageChannel()
  port2.start() // a dead page: receives nothing it answers
  let closedWith = null
  const a = connectPort(port1, {}, { ackTimeoutMs: 50, onClose: (err) => { closedWith = err } })
  await assert.rejects(a.call('offer', ['x']), PortClosedError)
  assert.ok(closedWith instanceof PortClosedError)
  assert.equal(a.closed, true)
  await assert.rejects(a.call('offer', ['x']), PortClosedError)
  port2.close()
})

test('a slow handler is fine once acknowledged; bye ends the other side', async () => {
  const { port1, port2 } = new MessageChannel()
  const a = connectPort(port1, {}, { ackTimeoutMs: 50 })
  let bClosed = false
  const b = connectPort(port2, { slow: () => new Promise((resolve) => setTimeout(() => resolve('done'), 150)) },
    { onClose: () => { bClosed = true } })
  assert.equal(await a.call('slow', []), 'done')
  a.close()
  await new Promise((resolve) => setTimeout(resolve, 20))
  assert.equal(bClosed, true)
  assert.equal(b.closed, true)
})
