/**
 * What js-libp2p needs from Node 20 that browsers already have. Import this
 * module first, and only from Node entry points (the relay CLI, the headless
 * peer, tests, benchmarks): it must never end up in a browser bundle.
 *
 * - `Promise.withResolvers` (Node 22+, every current browser): libp2p calls it
 *   on hot paths such as yamux pings.
 * - a global `WebSocket`: @libp2p/websockets dials with the global. Node 20's
 *   own is experimental and several times slower than `ws`. `ws` sockets are
 *   Node EventEmitters, which throw an 'error' event nobody listens to: when a
 *   dial is aborted (say, stop() while the relay is unreachable) libp2p has
 *   already removed its listeners and the late ECONNREFUSED would kill the
 *   process. Browsers just drop such events, so we do the same.
 */
import { WebSocket as WsWebSocket } from 'ws'

if (typeof Promise.withResolvers !== 'function') {
  Object.defineProperty(Promise, 'withResolvers', {
    configurable: true,
    writable: true,
    value: function withResolvers () {
      let resolve, reject
      const promise = new this((res, rej) => { resolve = res; reject = rej })
      return { promise, resolve, reject }
    }
  })
}

class NodeWebSocket extends WsWebSocket {
  constructor (...args) {
    super(...args)
    this.on('error', () => {}) // listeners added with addEventListener still get it
  }
}

if (globalThis.WebSocket?.name !== NodeWebSocket.name) {
  globalThis.WebSocket = NodeWebSocket
}
