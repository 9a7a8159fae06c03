/**
 * An RTCDataChannel as the stream shape framing.js reads and writes
 * (send → bool, onDrain, close, abort, async iteration), so a request over a
 * direct WebRTC link is framed, limited and checked exactly as one through
 * the relay.
 *
 * A channel carries one exchange at a time (request, then response) and is
 * then reused for the next, never closed after each: closing a channel and
 * opening another that gets the same SCTP stream id races in Chromium (the
 * late close of the old one can close the new one; seen about once in 600
 * requests). Each exchange iterates the stream afresh; the framing's exact
 * lengths leave nothing over between exchanges, and bytes that arrive between
 * two iterations wait in the queue.
 */

/** Largest data channel message we send: every browser accepts 16 KiB. */
const CHUNK_BYTES = 16 * 1024
/** Above this many buffered bytes, send() asks the writer to wait for drain. */
const HIGH_WATER_BYTES = 1024 * 1024
const LOW_WATER_BYTES = 256 * 1024

/**
 * @param {RTCDataChannel} channel an open channel
 */
export function channelStream (channel) {
  channel.binaryType = 'arraybuffer'
  channel.bufferedAmountLowThreshold = LOW_WATER_BYTES
  const queue = []
  let wake = null
  let ended = false
  let failure = null

  const notify = () => {
    const w = wake
    wake = null
    w?.()
  }
  const onMessage = (event) => {
    const data = event.data
    queue.push(typeof data === 'string' ? new TextEncoder().encode(data) : new Uint8Array(data))
    notify()
  }
  const onError = (event) => { failure ??= new Error(`data channel failed: ${event.error?.message ?? 'error'}`); notify() }
  const onClose = () => {
    ended = true
    channel.removeEventListener('message', onMessage)
    channel.removeEventListener('close', onClose)
    channel.removeEventListener('error', onError)
    notify()
  }
  channel.addEventListener('message', onMessage)
  channel.addEventListener('close', onClose)
  channel.addEventListener('error', onError)

  /** Resolves once there are bytes to read (true) or the channel ended (false). */
  const readable = async () => {
    while (queue.length === 0 && !ended && !failure) await new Promise((resolve) => { wake = resolve })
    return queue.length > 0
  }

  return {
    readable,
    /** Whether another exchange can use this channel. */
    get usable () { return !ended && !failure && channel.readyState === 'open' },
    send (bytes) {
      if (failure) throw failure
      for (let offset = 0; offset < bytes.byteLength; offset += CHUNK_BYTES) {
        channel.send(bytes.subarray(offset, offset + CHUNK_BYTES))
      }
      return channel.bufferedAmount <= HIGH_WATER_BYTES
    },
    onDrain ({ signal } = {}) {
      return new Promise((resolve, reject) => {
        if (channel.bufferedAmount <= LOW_WATER_BYTES) return resolve()
        const done = (settle) => {
          channel.removeEventListener('bufferedamountlow', onLow)
          channel.removeEventListener('close', onGone)
          signal?.removeEventListener('abort', onAbort)
          settle()
        }
        const onLow = () => done(resolve)
        const onGone = () => done(() => reject(new Error('data channel closed while sending')))
        const onAbort = () => done(() => reject(signal.reason))
        channel.addEventListener('bufferedamountlow', onLow)
        channel.addEventListener('close', onGone)
        signal?.addEventListener('abort', onAbort, { once: true })
      })
    },
    /** Nothing to half-close: the message's lengths tell the reader where it ends. */
    async close () {},
    abort (err) {
      failure ??= err
      channel.close()
      notify()
    },
    /** One exchange's reading; returning from it keeps the channel and what is queued. */
    [Symbol.asyncIterator] () {
      return {
        next: async () => {
          if (failure) throw failure
          if (await readable()) return { done: false, value: queue.shift() }
          if (failure) throw failure
          return { done: true, value: undefined }
        },
        return: async () => ({ done: true, value: undefined })
      }
    }
  }
}
