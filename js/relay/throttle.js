/**
 * A per-peer byte rate on relayed connections (issue 11, "the relay under
 * load"): one peer flooding others through the relay made every other peer's
 * requests 3.5x slower. Each peer gets a token bucket (rate bytes/s, burst
 * bytes) for the bytes the relay receives from it on its relayed connections,
 * in either role: on the hop stream when it dialed, on the stop stream when it
 * was dialed. When its bucket is empty, its relayed streams are paused until
 * the debt is paid back: pausing a yamux stream stops its window updates, so
 * the peer's own yamux stops sending (backpressure). Nothing is dropped or
 * cut; the bytes already in flight wait in the stream's read buffer.
 *
 * The hook. circuit-relay-v2 4.2 joins the two streams in
 * `createLimitedRelay(src, dst)` (its utils.js), called as the last statement
 * of the service's `handleConnect`, which `onHop` calls as a method
 * (`this.handleConnect`); the destination's stream comes from `this.stopHop`.
 * Neither is exported nor has an option, so this wraps both methods on the
 * service instance: `handleConnect` passes `stopHop` the options object it
 * was given, so our `handleConnect` gives it a fresh one, `stopHop` records
 * the stream it returns (and its peer) against that object, and once
 * `handleConnect` returns, the streams are piped (their pipe's 'message'
 * listener is attached synchronously by createLimitedRelay) and we add ours.
 * Adding it any earlier would be wrong: a stream with a 'message' listener
 * dispatches its data to it, and data arriving before the pipe listens would
 * reach only ours and be lost. (An AsyncLocalStorage context did this
 * before; in Node 20 it turns on async hooks for every promise in the
 * process, a cost on each relayed frame.) Relies on: the two method names,
 * that handleConnect pipes before it returns and hands stopHop its options
 * object, and AbstractMessageStream's
 * pause()/resume(). If a libp2p update changes those, the relay still works;
 * it just stops throttling (the test in throttle.test.js catches that).
 *
 * A paused stream's read buffer holds what the peer had sent before it saw
 * the pause: at most the relay's yamux receive window. The relay caps that
 * window (RELAY_STREAM_WINDOW, index.js) below the buffer's limit (4 MiB, over
 * which libp2p aborts the stream), else a window grown to 16 MiB would
 * overflow it.
 */
/** largest yamux receive window the relay grants per stream; see the file comment */
export const RELAY_STREAM_WINDOW = 1024 * 1024

/**
 * @param {import('@libp2p/circuit-relay-v2').CircuitRelayService} relay the relay service
 * @param {{rate: number, burst: number}} limits bytes per second per peer, and
 *   the bucket's size (what a peer may send at once after being quiet)
 * @returns {{stop: () => void, buckets: () => number}} stop unhooks (streams
 *   being paced are resumed); buckets counts peers currently tracked
 */
export function throttleRelay (relay, { rate, burst }) {
  /** handleConnect's options object → where its stopHop records the destination */
  const connecting = new WeakMap()
  /** @type {Map<string, {tokens: number, at: number, streams: Set<any>, timer: any, forget: any}>} */
  const buckets = new Map()
  const { handleConnect, stopHop } = relay
  if (typeof handleConnect !== 'function' || typeof stopHop !== 'function') {
    return { stop () {}, buckets: () => 0 } // not the circuit-relay-v2 this was written for: no throttle
  }

  const bucketOf = peer => {
    let b = buckets.get(peer)
    if (b == null) {
      b = { tokens: burst, at: Date.now(), streams: new Set(), timer: null, forget: null }
      buckets.set(peer, b)
    }
    clearTimeout(b.forget)
    return b
  }

  const refill = b => {
    const now = Date.now()
    b.tokens = Math.min(burst, b.tokens + (now - b.at) * rate / 1000)
    b.at = now
  }

  // all of a peer's relayed streams pause and resume together: the bucket is the peer's
  const resumeAll = (peer, b) => {
    b.timer = null
    refill(b)
    if (b.tokens < 0) { // another stream's last message put it deeper in debt
      b.timer = setTimeout(resumeAll, Math.ceil(-b.tokens * 1000 / rate), peer, b)
      return
    }
    for (const s of b.streams) {
      if (b.tokens < 0) break // a resumed stream's buffered data spent it again
      if (s.readStatus === 'paused') s.resume()
    }
  }

  const watch = (stream, peer) => {
    if (stream == null || stream.status !== 'open' || stream.listenerCount?.('message') === 0) return
    const b = bucketOf(peer)
    b.streams.add(stream)
    const onMessage = evt => {
      refill(b)
      b.tokens -= evt.data.byteLength
      if (b.tokens >= 0) return
      for (const s of b.streams) {
        if (s.readStatus === 'readable') s.pause()
      }
      if (b.timer == null) b.timer = setTimeout(resumeAll, Math.ceil(-b.tokens * 1000 / rate), peer, b)
    }
    const onClose = () => {
      stream.removeEventListener('message', onMessage)
      b.streams.delete(stream)
      if (b.streams.size > 0) return
      clearTimeout(b.timer)
      b.timer = null
      // forget the peer once its bucket would be full again, not sooner:
      // closing its streams must not give it a fresh burst
      refill(b)
      b.forget = setTimeout(() => { if (b.streams.size === 0) buckets.delete(peer) }, Math.ceil((burst - b.tokens) * 1000 / rate))
      b.forget.unref?.()
    }
    stream.addEventListener('message', onMessage)
    stream.addEventListener('close', onClose, { once: true })
  }

  relay.stopHop = async function (args, options) {
    const stream = await stopHop.call(this, args, options)
    const ctx = options == null ? undefined : connecting.get(options)
    if (ctx != null && stream != null) ctx.destination = { stream, peer: args.connection.remotePeer.toString() }
    return stream
  }
  relay.handleConnect = async function (args, options) {
    const ctx = {}
    const ownOptions = { ...options }
    connecting.set(ownOptions, ctx)
    await handleConnect.call(this, args, ownOptions)
    // handleConnect has returned: if it relayed, both streams are piped now
    if (ctx.destination == null) return
    watch(args.stream.unwrap(), args.connection.remotePeer.toString())
    watch(ctx.destination.stream, ctx.destination.peer)
  }

  return {
    stop () {
      relay.handleConnect = handleConnect
      relay.stopHop = stopHop
      for (const b of buckets.values()) {
        clearTimeout(b.timer)
        clearTimeout(b.forget)
        for (const s of b.streams) {
          if (s.readStatus === 'paused') s.resume()
        }
      }
      buckets.clear()
    },
    buckets: () => buckets.size
  }
}
