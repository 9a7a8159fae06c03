/**
 * The federation wire format: each libp2p stream under FEDERATION_PROTOCOL
 * carries exactly one request (dialer → listener) and one response (back);
 * under FEDERATION_STREAM_PROTOCOL, one such exchange after another
 * (request-streams.js), without the half-close.
 * Each message is
 *
 *   u32 big-endian head length | head (UTF-8 JSON) | u32 big-endian body length | body
 *
 * and the sender then closes its writable end. Explicit lengths, rather than
 * "read until the stream ends", let the reader tell a complete message from one
 * cut short by a reset, and refuse an oversized one before buffering it.
 * Heads are the bridge's JSON heads (js/bridge/globals.js), bodies raw bytes.
 */
import { MAX_BODY_BYTES, MAX_HEAD_BYTES } from './constants.js'
import { P2PProtocolError, P2PTooLargeError } from './errors.js'

const encoder = new TextEncoder()
/** Bodies up to this size are copied behind their head and sent with it. */
const MAX_COPIED_BODY_BYTES = 64 * 1024
const decoder = new TextDecoder('utf-8', { fatal: true })

/**
 * Writes one message and half-closes the stream.
 * @param {import('@libp2p/interface').Stream} stream
 * @param {string} head JSON
 * @param {Uint8Array|null} body
 * @param {{signal?: AbortSignal, maxBodyBytes?: number}} [options]
 */
export async function writeMessage (stream, head, body, options = {}) {
  const headBytes = encoder.encode(head)
  const bodyBytes = body ?? new Uint8Array(0)
  if (headBytes.byteLength > MAX_HEAD_BYTES) {
    throw new P2PTooLargeError(`head is ${headBytes.byteLength} bytes, the limit is ${MAX_HEAD_BYTES}`)
  }
  const maxBody = options.maxBodyBytes ?? MAX_BODY_BYTES
  if (bodyBytes.byteLength > maxBody) {
    throw new P2PTooLargeError(`body is ${bodyBytes.byteLength} bytes, the limit is ${maxBody}`)
  }
  // a small body goes in the same send as its head: one muxer frame, not two
  const together = bodyBytes.byteLength <= MAX_COPIED_BODY_BYTES
  const prefix = new Uint8Array(4 + headBytes.byteLength + 4 + (together ? bodyBytes.byteLength : 0))
  const view = new DataView(prefix.buffer)
  view.setUint32(0, headBytes.byteLength)
  prefix.set(headBytes, 4)
  view.setUint32(4 + headBytes.byteLength, bodyBytes.byteLength)
  if (together) prefix.set(bodyBytes, 4 + headBytes.byteLength + 4)
  await send(stream, prefix, options.signal)
  if (!together) await send(stream, bodyBytes, options.signal)
  await stream.close({ signal: options.signal })
}

/** Sends with backpressure: libp2p streams buffer without bound unless we wait for drain. */
async function send (stream, bytes, signal) {
  if (!stream.send(bytes)) await stream.onDrain({ signal })
}

/**
 * Reads one message.
 * @param {import('@libp2p/interface').Stream} stream
 * @param {{signal?: AbortSignal, maxBodyBytes?: number}} [options]
 * @returns {Promise<{head: string, body: Uint8Array}>}
 */
export async function readMessage (stream, options = {}) {
  const message = await openMessage(stream, options)
  try {
    return { head: message.head, body: await message.readBody() }
  } finally {
    message.release()
  }
}

/**
 * Reads one message's head and the body length it announces, leaving the body
 * unread: the answering side checks the head (and its budget for the peer)
 * before it buffers up to MAX_BODY_BYTES. Call readBody() at most once, then
 * release() in every case.
 * @param {import('@libp2p/interface').Stream} stream
 * @param {{signal?: AbortSignal, maxBodyBytes?: number}} [options]
 * @returns {Promise<{head: string, bodyLength: number, readBody: () => Promise<Uint8Array>, release: () => void}>}
 */
export async function openMessage (stream, options = {}) {
  const reader = new ExactReader(stream, options.signal)
  try {
    const headLength = (await reader.readUint32('head length'))
    if (headLength > MAX_HEAD_BYTES) {
      throw new P2PTooLargeError(`head of ${headLength} bytes announced, the limit is ${MAX_HEAD_BYTES}`)
    }
    let head
    try {
      head = decoder.decode(await reader.read(headLength, 'head'))
    } catch (err) {
      if (err instanceof TypeError) throw new P2PProtocolError('head is not valid UTF-8', { cause: err })
      throw err
    }
    const bodyLength = await reader.readUint32('body length')
    const maxBody = options.maxBodyBytes ?? MAX_BODY_BYTES
    if (bodyLength > maxBody) {
      throw new P2PTooLargeError(`body of ${bodyLength} bytes announced, the limit is ${maxBody}`)
    }
    return {
      head,
      bodyLength,
      readBody: () => reader.read(bodyLength, 'body'),
      release: () => reader.release()
    }
  } catch (err) {
    reader.release()
    throw err
  }
}

/**
 * Reads exact byte counts from a stream's async iterator, keeping leftovers.
 * Anything after the message is ignored: one message per stream.
 */
class ExactReader {
  constructor (stream, signal) {
    this.iterator = stream[Symbol.asyncIterator]()
    this.chunks = []
    this.buffered = 0
    this.signal = signal
  }

  async readUint32 (what) {
    const bytes = await this.read(4, what)
    return new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0)
  }

  /** @returns {Promise<Uint8Array>} exactly n bytes, as one array */
  async read (n, what) {
    while (this.buffered < n) {
      const { done, value } = await this.next()
      if (done) throw new P2PProtocolError(`stream ended while reading the ${what} (${this.buffered}/${n} bytes)`)
      const chunk = value instanceof Uint8Array ? value : value.subarray()
      if (chunk.byteLength === 0) continue
      this.chunks.push(chunk)
      this.buffered += chunk.byteLength
    }
    return this.take(n)
  }

  take (n) {
    if (n === 0) return new Uint8Array(0)
    const first = this.chunks[0]
    if (first.byteLength >= n) {
      const out = first.subarray(0, n)
      if (first.byteLength === n) this.chunks.shift()
      else this.chunks[0] = first.subarray(n)
      this.buffered -= n
      return out
    }
    const out = new Uint8Array(n)
    let offset = 0
    while (offset < n) {
      const chunk = this.chunks[0]
      const used = Math.min(chunk.byteLength, n - offset)
      out.set(chunk.subarray(0, used), offset)
      offset += used
      if (used === chunk.byteLength) this.chunks.shift()
      else this.chunks[0] = chunk.subarray(used)
    }
    this.buffered -= n
    return out
  }

  /** One iterator step raced against the abort signal, so a silent peer cannot hang us. */
  next () {
    const signal = this.signal
    if (signal == null) return this.iterator.next()
    signal.throwIfAborted()
    return new Promise((resolve, reject) => {
      const onAbort = () => reject(signal.reason)
      signal.addEventListener('abort', onAbort, { once: true })
      this.iterator.next().then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort))
    })
  }

  /** Detaches from the stream's events (the iterator's finally block). */
  release () {
    this.iterator.return?.().catch(() => {})
  }
}
