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
 * - messages that arrive before anyone listens are held, not lost (issue 17):
 *   @libp2p/websockets awaits 'open' and only then adds its 'message'
 *   listener. A server that speaks first (go-libp2p sends its multistream
 *   header right after the 101) can have its first frame in the same TCP read
 *   as the 101; `ws` emits it on process.nextTick, before the awaiting
 *   promise resumes, and an EventEmitter with no listener drops it. Browsers
 *   (and undici) queue such messages as tasks, so they are not affected.
 * - small binary sends, on dialed and accepted sockets alike, are coalesced into
 *   one WebSocket message per event-loop turn: libp2p sends each noise and yamux frame on its own (78 messages each
 *   way for one relayed 1.5 KB request, issue 17), and every message costs a
 *   syscall and a frame header at both ends. Frame boundaries mean nothing to
 *   libp2p over WebSockets (it reads a byte stream), so this is invisible to
 *   it; `bufferedAmount` includes what is held, so its backpressure still works.
 */
import { WebSocket as WsWebSocket, WebSocketServer } from 'ws'

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

/**
 * ms a WebSocket may spend in its opening handshake. @libp2p/websockets
 * abandons a dial whose signal aborts without closing the socket it opened
 * (10.1.21 throws before its close()); a server that accepted TCP and never
 * answered the upgrade would keep that socket forever.
 */
const HANDSHAKE_TIMEOUT_MS = 10_000

class NodeWebSocket extends WsWebSocket {
  /** 'message' arguments emitted while nobody listened, oldest first */
  #held = []
  /** binary sends waiting for the end of this event-loop turn, and their bytes */
  #outgoing = []
  #outgoingBytes = 0

  constructor (url, protocols, options) {
    super(url, protocols, { handshakeTimeout: HANDSHAKE_TIMEOUT_MS, ...options })
    this.on('error', () => {}) // listeners added with addEventListener still get it
    // 'newListener' fires for addEventListener, onmessage and on() alike
    this.on('newListener', event => {
      // a microtask, as libp2p's own streams do: the listener may be added in a
      // constructor that has not finished setting up what the listener uses
      if (event === 'message' && this.#held.length > 0) queueMicrotask(() => this.#release())
    })
  }

  emit (event, ...args) {
    // hold while nobody listens, and behind earlier held ones so order is kept
    if (event === 'message' && (this.#held.length > 0 || this.listenerCount('message') === 0)) {
      this.#held.push(args)
      return true
    }
    return super.emit(event, ...args)
  }

  get bufferedAmount () {
    return super.bufferedAmount + this.#outgoingBytes
  }

  send (data, options, callback) {
    const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : null
    if (bytes == null || options !== undefined || callback !== undefined || this.readyState !== WsWebSocket.OPEN) {
      this.#flush()
      return super.send(data, options, callback)
    }
    if (this.#outgoing.length === 0) setImmediate(() => this.#flush())
    this.#outgoing.push(bytes)
    this.#outgoingBytes += bytes.byteLength
  }

  close (...args) {
    this.#flush()
    return super.close(...args)
  }

  #flush () {
    if (this.#outgoing.length === 0) return
    const message = this.#outgoing.length === 1 ? this.#outgoing[0] : Buffer.concat(this.#outgoing, this.#outgoingBytes)
    this.#outgoing = []
    this.#outgoingBytes = 0
    if (this.readyState === WsWebSocket.OPEN) super.send(message)
  }

  #release () {
    while (this.#held.length > 0 && this.listenerCount('message') > 0) super.emit('message', ...this.#held.shift())
  }
}

if (globalThis.WebSocket?.name !== NodeWebSocket.name) {
  globalThis.WebSocket = NodeWebSocket
  // Accepted sockets too (the relay's side): @libp2p/websockets makes its
  // WebSocketServer without options, so ws's own class would be used. ws
  // builds each accepted socket from `options.WebSocket` in completeUpgrade.
  const completeUpgrade = WebSocketServer.prototype.completeUpgrade
  WebSocketServer.prototype.completeUpgrade = function (...args) {
    if (this.options.WebSocket === WsWebSocket) this.options.WebSocket = NodeWebSocket
    return completeUpgrade.apply(this, args)
  }
}
