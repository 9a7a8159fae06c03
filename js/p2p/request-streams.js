/**
 * Long-lived federation streams between two peers (issue 17, "cheap
 * relaying"). Under FEDERATION_STREAM_PROTOCOL a stream carries one exchange
 * after another (request, response, next request, …), each framed as in
 * framing.js, with no half-close between them: the exact lengths say where a
 * message ends. A request through the relay then costs one message each way
 * instead of opening a stream (yamux SYN, protocol negotiation, two FINs),
 * which the relay forwarded frame by frame. This is what direct links already
 * do with data channels (direct/channel.js, direct/host.js).
 *
 * Asking side (`createRequestStreams`): per peer, an idle stream is reused, or
 * a new one opened (at most MAX_STREAMS_PER_PEER busy at once; more requests
 * wait for one to come free), and after the exchange it goes back to the idle
 * list (at most MAX_IDLE_PER_PEER kept; the rest are closed). A stream that
 * failed is dropped, never reused; a stream that closed while idle (the peer
 * went away or closed it) leaves the list at once. A request that fails on a
 * *reused* stream before a byte of the answer came back (the stream had died
 * while idle) is tried once more on a new stream, as HTTP clients do with
 * keep-alive connections.
 *
 * Old peers speak only FEDERATION_PROTOCOL (one stream per request): the dial
 * offers both, and a stream that negotiated the old protocol is used for one
 * exchange and closed, as before. Such a peer is remembered for a while so its
 * dials ask for the old protocol first.
 *
 * Answering side (`answerEach`): answers exchanges on one stream until the
 * asker closes it or one fails.
 */
import { FEDERATION_PROTOCOL, FEDERATION_STREAM_PROTOCOL } from './constants.js'
import { P2PProtocolError, PeerUnreachableError } from './errors.js'
import { answer, ask } from './exchange.js'

/** Streams one peer may have busy with our requests at once (the answerer accepts 64 per connection). */
export const MAX_STREAMS_PER_PEER = 32
/** Idle streams kept per peer for the next requests; more are closed. */
export const MAX_IDLE_PER_PEER = 4
/** ms a peer that answered only the old protocol is dialed with it first. */
const LEGACY_MEMORY_MS = 10 * 60 * 1000
/** Peers remembered as old at once (oldest forgotten first). */
const MAX_LEGACY_PEERS = 1024

/**
 * A libp2p stream as the stream shape framing.js reads and writes, for many
 * exchanges in turn: one 'message' listener for the stream's whole life
 * queues what arrives, each exchange iterates afresh, and close() does not
 * half-close (the next exchange still writes).
 * @param {import('@libp2p/interface').Stream} stream
 */
export function reusableStream (stream) {
  const queue = []
  let wake = null
  let ended = false
  let failure = null
  /** bytes received over the stream's life: tells "no answer yet" from "answer cut short" */
  let received = 0

  const notify = () => {
    const w = wake
    wake = null
    w?.()
  }
  const onMessage = (evt) => {
    const chunk = evt.data instanceof Uint8Array ? evt.data : evt.data.subarray()
    received += chunk.byteLength
    queue.push(chunk)
    notify()
  }
  const onEnd = () => { ended = true; notify() }
  const onClose = (evt) => {
    ended = true
    if (evt?.error != null) failure ??= evt.error
    stream.removeEventListener('message', onMessage)
    stream.removeEventListener('remoteCloseWrite', onEnd)
    notify()
  }
  stream.addEventListener('message', onMessage)
  stream.addEventListener('remoteCloseWrite', onEnd)
  stream.addEventListener('close', onClose, { once: true })
  if (stream.status !== 'open') onClose()

  /** Resolves once there are bytes to read (true) or the stream ended (false). */
  const readable = async () => {
    while (queue.length === 0 && !ended && failure == null) await new Promise((resolve) => { wake = resolve })
    return queue.length > 0
  }

  return {
    protocol: stream.protocol,
    readable,
    get received () { return received },
    /** Whether another exchange can use this stream: open both ways, nothing unread. */
    get usable () {
      return !ended && failure == null && queue.length === 0 && stream.status === 'open' && stream.writeStatus === 'writable'
    },
    send: (bytes) => stream.send(bytes),
    onDrain: (options) => stream.onDrain(options),
    /** Nothing to half-close between exchanges: the message's lengths tell the reader where it ends. */
    async close () {},
    /** Ends the stream for good (an idle stream no longer wanted). */
    async end () {
      if (stream.status !== 'open') return
      await stream.close().catch(() => stream.abort(new Error('closing a federation stream failed')))
    },
    abort (err) {
      failure ??= err
      stream.abort(err)
      notify()
    },
    addEventListener: (...args) => stream.addEventListener(...args),
    removeEventListener: (...args) => stream.removeEventListener(...args),
    /** One exchange's reading; returning from it keeps the stream and what is queued. */
    [Symbol.asyncIterator] () {
      return {
        next: async () => {
          if (failure != null) throw failure
          if (await readable()) return { done: false, value: queue.shift() }
          if (failure != null) throw failure
          return { done: true, value: undefined }
        },
        return: async () => ({ done: true, value: undefined })
      }
    }
  }
}

/**
 * Answers exchanges on one incoming FEDERATION_STREAM_PROTOCOL stream, one
 * after another, until the asker closes it or an exchange fails (answer()
 * then aborted the stream).
 * @param {import('@libp2p/interface').Stream} stream
 * @param {string} from the authenticated remote peer
 * @param {Parameters<typeof answer>[2]} options
 */
export async function answerEach (stream, from, options) {
  const reusable = reusableStream(stream)
  while (await reusable.readable()) {
    await answer(reusable, from, options)
    if (stream.status !== 'open') return // answer() aborted it
  }
  await reusable.end()
}

/**
 * @param {object} options
 * @param {(peerId: string, protocols: string[], opts: {signal?: AbortSignal}) => Promise<import('@libp2p/interface').Stream>} options.dial
 *   opens a stream to the peer, negotiating the first of `protocols` it speaks
 * @param {number} [options.maxStreamsPerPeer]
 * @param {number} [options.maxIdlePerPeer]
 */
export function createRequestStreams ({ dial, maxStreamsPerPeer = MAX_STREAMS_PER_PEER, maxIdlePerPeer = MAX_IDLE_PER_PEER }) {
  /** peerId → {idle: reusable[], busy: number, waiting: Array<(stream|null) => void>, first: settles once the first stream is open or failed} */
  const peers = new Map()
  /** peerId → until when (ms) it is dialed with the old protocol first */
  const legacy = new Map()

  const entryOf = (peerId) => {
    let entry = peers.get(peerId)
    if (entry === undefined) {
      entry = { idle: [], busy: 0, waiting: [], first: null }
      peers.set(peerId, entry)
    }
    return entry
  }
  const forgetIfUnused = (peerId, entry) => {
    if (entry.idle.length === 0 && entry.busy === 0 && entry.waiting.length === 0) peers.delete(peerId)
  }

  const protocolsFor = (peerId) => {
    const until = legacy.get(peerId)
    if (until !== undefined && until > Date.now()) return [FEDERATION_PROTOCOL, FEDERATION_STREAM_PROTOCOL]
    if (until !== undefined) legacy.delete(peerId)
    return [FEDERATION_STREAM_PROTOCOL, FEDERATION_PROTOCOL]
  }
  const rememberLegacy = (peerId) => {
    legacy.delete(peerId)
    legacy.set(peerId, Date.now() + LEGACY_MEMORY_MS)
    if (legacy.size > MAX_LEGACY_PEERS) legacy.delete(legacy.keys().next().value)
  }

  /**
   * An idle stream to the peer, or null once a new one may be opened (a slot is ours then).
   * While the first stream to a peer is being opened (which dials the peer), the
   * others wait for it: many streams negotiated at once on a relayed connection
   * still being set up were reset (16 concurrent first requests failed, also with
   * one stream per request).
   */
  const acquire = async (peerId, signal) => {
    let entry = entryOf(peerId)
    while (entry.first != null) {
      await abortable(entry.first.promise, signal)
      entry = entryOf(peerId) // a failed first try may have dropped it
    }
    for (;;) {
      const idle = entry.idle.pop()
      if (idle !== undefined) {
        if (idle.usable) return { entry, reusable: idle }
        idle.abort(new Error('idle federation stream had unread bytes'))
        entry.busy-- // its slot, taken when it went idle, is free again
        continue
      }
      if (entry.busy < maxStreamsPerPeer) {
        if (entry.busy === 0) entry.first = deferred() // settled by roundTrip once this stream is open or failed
        entry.busy++
        return { entry, reusable: null }
      }
      const handed = await new Promise((resolve, reject) => {
        entry.waiting.push(resolve)
        signal?.addEventListener('abort', () => {
          const at = entry.waiting.indexOf(resolve)
          if (at >= 0) entry.waiting.splice(at, 1)
          reject(signal.reason)
        }, { once: true })
      })
      if (handed !== null) return { entry, reusable: handed }
    }
  }

  /** After an exchange: the stream goes to a waiting request or idles; null means it is gone. */
  const release = (peerId, entry, reusable) => {
    const usable = reusable !== null && reusable.usable
    if (!usable) reusable?.end() // a failed one is aborted already; this closes one the peer half-closed
    const next = entry.waiting.shift()
    if (next !== undefined) {
      if (!usable) entry.busy--
      next(usable ? reusable : null)
      return
    }
    if (usable && entry.idle.length < maxIdlePerPeer) {
      entry.idle.push(reusable) // keeps its slot while idle
      return
    }
    entry.busy--
    if (usable) reusable.end()
    forgetIfUnused(peerId, entry)
  }

  /** Opens a new stream; a legacy one is returned unwrapped, for one exchange. */
  const open = async (peerId, signal) => {
    const stream = await dial(peerId, protocolsFor(peerId), { signal })
    if (stream.protocol === FEDERATION_PROTOCOL) {
      rememberLegacy(peerId)
      return { legacy: stream }
    }
    const reusable = reusableStream(stream)
    // leave the idle list at once when it closes there (peer gone, or it closed it)
    stream.addEventListener('close', () => {
      const entry = peers.get(peerId)
      const at = entry?.idle.indexOf(reusable) ?? -1
      if (at < 0) return
      entry.idle.splice(at, 1)
      entry.busy--
      forgetIfUnused(peerId, entry)
    }, { once: true })
    return { reusable }
  }

  return {
    /**
     * One exchange with a peer on a reused or new stream.
     * @param {string} peerId
     * @param {{head: string, body: Uint8Array|null}} request
     * @param {{timeoutMs: number, signal?: AbortSignal}} options
     * @returns {Promise<{head: string, body: Uint8Array}>}
     */
    async roundTrip (peerId, request, { timeoutMs, signal }) {
      let retried = false
      for (;;) {
        let entry, reusable
        try {
          // waiting for a free stream counts against the request's time
          ({ entry, reusable } = await acquire(peerId, AbortSignal.any([AbortSignal.timeout(timeoutMs), ...(signal ? [signal] : [])])))
        } catch (err) {
          const stale = peers.get(peerId)
          if (stale !== undefined) forgetIfUnused(peerId, stale)
          throw err
        }
        const reused = reusable !== null
        if (!reused) {
          let opened
          const first = entry.first
          try {
            opened = await open(peerId, signal)
          } catch (err) {
            release(peerId, entry, null)
            throw err
          } finally {
            if (first != null && entry.first === first) {
              entry.first = null
              first.resolve()
            }
          }
          if (opened.legacy) {
            release(peerId, entry, null)
            return ask(opened.legacy, request, { peerId, timeoutMs, signal })
          }
          reusable = opened.reusable
        }
        const receivedBefore = reusable.received
        try {
          const response = await ask(reusable, request, { peerId, timeoutMs, signal })
          release(peerId, entry, reusable)
          return response
        } catch (err) {
          release(peerId, entry, null)
          // reset or ended before a byte of the answer: it died while idle (or the peer closed it as we wrote)
          const diedIdle = reused && !retried && reusable.received === receivedBefore &&
            (err instanceof PeerUnreachableError || err instanceof P2PProtocolError)
          if (!diedIdle || signal?.aborted) throw err
          retried = true
        }
      }
    },

    /** Streams per peer, for tests and diagnostics: {busy (idle included), idle}. */
    stats (peerId) {
      const entry = peers.get(peerId)
      return { busy: entry?.busy ?? 0, idle: entry?.idle.length ?? 0 }
    },

    /** Closes every idle stream (stop()). */
    closeAll () {
      for (const entry of peers.values()) {
        for (const reusable of entry.idle.splice(0)) reusable.end()
        for (const next of entry.waiting.splice(0)) next(null)
      }
      peers.clear()
      legacy.clear()
    }
  }
}

function deferred () {
  let resolve
  const promise = new Promise(res => { resolve = res })
  return { promise, resolve }
}

/** Resolves with promise, or rejects with signal's reason once it aborts. */
function abortable (promise, signal) {
  if (signal == null) return promise
  signal.throwIfAborted()
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort))
  })
}
