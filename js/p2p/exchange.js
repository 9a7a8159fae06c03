/**
 * One federation exchange over one stream, both ends: the asking side writes
 * a request and reads the response; the answering side reads the request,
 * checks it may reach Go, and writes Go's answer.
 *
 * "Stream" is anything framing.js can use: a libp2p stream through the relay
 * (index.js) or a WebRTC data channel between two browsers (direct/channel.js),
 * so both paths apply the same limits, checks and error names.
 */
import { isServeHeadLine } from '../bridge/globals.js'
import { FEDERATION_PATH_PREFIXES } from './constants.js'
import { P2PProtocolError, P2PTimeoutError, P2PTooLargeError, PeerUnreachableError } from './errors.js'
import { openMessage, readMessage, writeMessage } from './framing.js'

/**
 * Sends `request` on an open stream and returns the response.
 * @param {object} stream a framing.js stream that also has abort(err)
 * @param {{head: string, body: Uint8Array|null}} request
 * @param {object} options
 * @param {string} options.peerId for error messages
 * @param {number} options.timeoutMs the whole exchange
 * @param {AbortSignal} [options.signal] the caller gave up
 * @returns {Promise<{head: string, body: Uint8Array}>}
 */
export async function ask (stream, request, { peerId, timeoutMs, signal }) {
  const timeout = AbortSignal.timeout(timeoutMs)
  const whole = signal == null ? timeout : AbortSignal.any([timeout, signal])
  try {
    await writeMessage(stream, request.head, request.body, { signal: whole })
    const response = await readMessage(stream, { signal: whole })
    checkResponseHead(response.head)
    return response
  } catch (err) {
    stream.abort(err instanceof Error ? err : new Error(String(err)))
    if (signal?.aborted) throw signal.reason
    if (timeout.aborted) {
      throw new P2PTimeoutError(`peer ${peerId} did not answer within ${timeoutMs} ms`, { cause: err })
    }
    if (err instanceof P2PProtocolError || err instanceof P2PTooLargeError) throw err
    throw new PeerUnreachableError(`peer ${peerId} went away mid-request: ${err.message}`, { cause: err })
  }
}

/**
 * Answers one incoming request with `serve` (Go's serve, or a call to it).
 * `from` must be the authenticated remote peer: it is what Go is told.
 *
 * The head is checked before the body is read (issue 11): the path must be a
 * federation one, an X-Matrix origin must be `from` (Go checks the signature),
 * a request with a body must be signed, and the bytes must fit `from`'s
 * budget. A refused request gets its Matrix error and, if it announced a
 * body, a reset stream: that body is never buffered.
 * @param {object} stream
 * @param {string} from
 * @param {{serve: Function, timeouts: {read: number, serve: number},
 *   budget: ReturnType<import('./inflight.js').createInFlightBudget>, logger?: {warn?: Function}}} options
 */
export async function answer (stream, from, { serve, timeouts, budget, logger = {} }) {
  let message = null
  let giveBack = null
  try {
    message = await openMessage(stream, { signal: AbortSignal.timeout(timeouts.read) })
    const head = parseRequestHead(message.head)
    const refusal = refusalOf(head, from, message.bodyLength)
    if (refusal == null) giveBack = budget.reserve(from, message.head.length + message.bodyLength)
    if (refusal != null || giveBack == null) {
      const response = refusal ?? matrixError(429, 'M_LIMIT_EXCEEDED',
        `over ${budget.maxBytesPerPeer} bytes of requests in flight from this peer`, { retry_after_ms: RETRY_AFTER_MS })
      logger.warn?.(`p2p: refused a request from ${from}: ${refusal == null ? 'in-flight budget spent' : 'bad head'} (${message.bodyLength} body bytes announced)`)
      await writeResponse(stream, response, AbortSignal.timeout(timeouts.read))
      if (message.bodyLength > 0) stream.abort(new P2PTooLargeError('request refused before its body was read'))
      return
    }
    const body = await message.readBody()
    head.peer = from
    const response = await serveOne(serve, head, body, stream, timeouts.serve, from, logger)
    await writeResponse(stream, response, AbortSignal.timeout(timeouts.read))
  } catch (err) {
    logger.warn?.(`p2p: request from ${from} failed: ${err.message}`)
    stream.abort(err instanceof Error ? err : new Error(String(err)))
  } finally {
    message?.release()
    giveBack?.()
  }
}

/** retry_after_ms of an over-budget refusal: a request of the peer's should have finished by then. */
const RETRY_AFTER_MS = 1000

/** The error answer for a request head that may not reach Go, or null if it may. */
function refusalOf (head, from, bodyLength) {
  if (head == null) return matrixError(400, 'M_BAD_JSON', 'malformed request head')
  if (!isFederationPath(head.url)) {
    // Only the server-server API may be reached from the network: the client
    // API on the same Go server belongs to the local user alone.
    return matrixError(403, 'M_FORBIDDEN', 'only federation paths are served over p2p')
  }
  const origin = xMatrixOrigin(head.headers)
  if (origin != null && origin !== from) {
    return matrixError(401, 'M_UNAUTHORIZED', `request signed as ${origin} arrived from peer ${from}`)
  }
  // Only GETs of keys and version are unsigned, and they carry no body.
  if (origin == null && bodyLength > 0) {
    return matrixError(401, 'M_UNAUTHORIZED', 'a request with a body must be X-Matrix signed')
  }
  return null
}

/**
 * Runs Go's serve; the stream closing early or the serve timeout cancel Go's
 * context (the signal reaches hearthServe), and a failure becomes a 500, so
 * the requester sees a server error rather than a vanished peer.
 */
async function serveOne (serve, head, body, stream, timeoutMs, from, logger) {
  const hungUp = new AbortController()
  const onClose = () => hungUp.abort(new Error('the requesting peer closed the stream'))
  stream.addEventListener?.('close', onClose, { once: true })
  const signal = AbortSignal.any([hungUp.signal, AbortSignal.timeout(timeoutMs)])
  try {
    return await withTimeout(serve(head, body, { signal }), timeoutMs, 'serve')
  } catch (err) {
    logger.warn?.(`p2p: serving ${head.method} ${head.url} for ${from} failed: ${err.message}`)
    return matrixError(500, 'M_UNKNOWN', 'the server failed to answer')
  } finally {
    stream.removeEventListener?.('close', onClose)
  }
}

function writeResponse (stream, response, signal) {
  return writeMessage(stream, JSON.stringify({ status: response.status, headers: response.headers ?? [] }),
    response.body ?? null, { signal })
}

/** The origin of an X-Matrix Authorization header (server-server API, "Request Authentication"), or null. */
export function xMatrixOrigin (headers) {
  for (const [name, value] of headers) {
    if (String(name).toLowerCase() !== 'authorization' || !/^X-Matrix\s/i.test(String(value))) continue
    const match = /(?:^X-Matrix\s+|,)\s*origin\s*=\s*"?([^",\s]+)"?/i.exec(String(value))
    return match?.[1] ?? ''
  }
  return null
}

/**
 * Whether `url` (path + query) is under a federation prefix. Normalising first
 * means "/_matrix/federation/../client/…" or its %2e%2e form cannot sneak past
 * the prefix check.
 */
export function isFederationPath (url) {
  if (typeof url !== 'string' || !url.startsWith('/')) return false
  let pathname
  try {
    pathname = new URL(url, 'http://hearth.invalid').pathname
  } catch {
    return false
  }
  return FEDERATION_PATH_PREFIXES.some(prefix => pathname.startsWith(prefix))
}

function parseRequestHead (text) {
  let head
  try {
    head = JSON.parse(text)
  } catch {
    return null
  }
  if (head === null || typeof head !== 'object' || !isServeHeadLine(head.method) ||
      typeof head.url !== 'string' || !Array.isArray(head.headers) ||
      !head.headers.every((h) => Array.isArray(h) && h.length === 2 && isServeHeadLine(h[0]) && isServeHeadLine(h[1]))) return null
  const parsed = new URL(head.url, 'http://hearth.invalid')
  return { method: head.method, url: parsed.pathname + parsed.search, headers: head.headers }
}

function checkResponseHead (text) {
  let head
  try {
    head = JSON.parse(text)
  } catch (err) {
    throw new P2PProtocolError('response head is not JSON', { cause: err })
  }
  if (!Number.isInteger(head?.status) || !Array.isArray(head.headers)) {
    throw new P2PProtocolError('response head lacks status or headers')
  }
}

const encoder = new TextEncoder()

function matrixError (status, errcode, error, extra = {}) {
  return {
    status,
    headers: [['content-type', 'application/json']],
    body: encoder.encode(JSON.stringify({ errcode, error, ...extra }))
  }
}

function withTimeout (promise, ms, what) {
  let timer
  const timeout = new Promise((resolve, reject) => {
    timer = setTimeout(() => reject(new P2PTimeoutError(`${what} took longer than ${ms} ms`)), ms)
    timer.unref?.() // Node: a hung serve must not keep the process alive after stop()
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}
