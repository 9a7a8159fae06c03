// The Node WebSocket shim (node-env.js) against a server that speaks first:
// issue 17's first-frame race, reproduced deterministically.
import './node-env.js'
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { once } from 'node:events'
import { createServer } from 'node:net'
import { WebSocket as PlainWs } from 'ws'

/**
 * A WebSocket server on 127.0.0.1 that answers the upgrade with the 101 and
 * `frames` (binary, unmasked, each under 126 bytes) in one single write, so the
 * client reads them together.
 */
async function speakFirstServer (frames) {
  const sockets = new Set()
  const server = createServer(socket => {
    sockets.add(socket)
    let request = ''
    socket.on('data', chunk => {
      request += chunk.toString('latin1')
      if (!request.includes('\r\n\r\n')) return
      const key = request.match(/sec-websocket-key: *(\S+)/i)[1]
      const accept = createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64')
      const head = Buffer.from('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        `Sec-WebSocket-Accept: ${accept}\r\n\r\n`, 'latin1')
      socket.write(Buffer.concat([head, ...frames.map(f => Buffer.concat([Buffer.from([0x82, f.length]), f]))]))
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return {
    url: `ws://127.0.0.1:${server.address().port}/`,
    close: () => { for (const s of sockets) s.destroy(); server.close() }
  }
}

/** What @libp2p/websockets 10.1.21 does: await 'open', then add the 'message' listener. */
async function dialLikeLibp2p (WebSocketClass, url, count) {
  const ws = new WebSocketClass(url)
  ws.binaryType = 'arraybuffer'
  await new Promise((resolve, reject) => {
    ws.addEventListener('open', resolve, { once: true })
    ws.addEventListener('error', reject, { once: true })
  })
  const received = []
  ws.addEventListener('message', evt => received.push(Buffer.from(evt.data).toString()))
  const deadline = Date.now() + 500
  while (received.length < count && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 10))
  ws.close()
  return received
}

const frames = ['/multistream/1.0.0\n', 'second', 'third'].map(s => Buffer.from(s))

test('frames a server sends in the same write as the 101 reach a listener added after open, in order', async (t) => {
  const server = await speakFirstServer(frames)
  t.after(() => server.close())
  assert.deepEqual(await dialLikeLibp2p(globalThis.WebSocket, server.url, 3), ['/multistream/1.0.0\n', 'second', 'third'])
})

test('plain ws still loses them (the reason for the shim; if this fails, ws or libp2p fixed it)', async (t) => {
  const server = await speakFirstServer(frames)
  t.after(() => server.close())
  assert.deepEqual(await dialLikeLibp2p(PlainWs, server.url, 3), [])
})
