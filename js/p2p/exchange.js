/**
 * One federation exchange over one stream, both ends: the asking side writes
 * a request and reads the response; the answering side reads the request,
 * checks it may reach Go, and writes Go's answer.
 *
 * "Stream" is anything framing.js can use: a libp2p stream through the relay
 * (index.js) or a WebRTC data channel between two browsers (direct/channel.js),
 * so both paths apply the same limits, checks and error names.
 */
import { FEDERATION_PATH_PREFIXES } from './constants.js'
import { P2PProtocolError, P2PTimeoutError, P2PTooLargeError, PeerUnreachableError } from './errors.js'
import { readMessage, writeMessage } from './framing.js'

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
 * @param {object} stream
 * @param {string} from
 * @param {{serve: Function, timeouts: {read: number, serve: number}, logger?: {warn?: Function}}} options
 */
export async function answer (stream, from, { serve, timeouts, logger = {} }) {
  try {
    const request = await readMessage(stream, { signal: AbortSignal.timeout(timeouts.read) })
    const head = parseRequestHead(request.head)
    let response
    if (head == null) {
      response = matrixError(400, 'M_BAD_JSON', 'malformed request head')
    } else if (!isFederationPath(head.url)) {
      // Only the server-server API may be reached from the network: the client
      // API on the same Go server belongs to the local user alone.
      response = matrixError(403, 'M_FORBIDDEN', 'only federation paths are served over p2p')
    } else {
      head.peer = from
      try {
        response = await withTimeout(serve(head, request.body), timeouts.serve, 'serve')
      } catch (err) {
        // Go failed or timed out: answer with an HTTP error, so the requester sees
        // a server error rather than a vanished peer.
        logger.warn?.(`p2p: serving ${head.method} ${head.url} for ${from} failed: ${err.message}`)
        response = matrixError(500, 'M_UNKNOWN', 'the server failed to answer')
      }
    }
    await writeMessage(stream, JSON.stringify({ status: response.status, headers: response.headers ?? [] }),
      response.body ?? null, { signal: AbortSignal.timeout(timeouts.read) })
  } catch (err) {
    logger.warn?.(`p2p: request from ${from} failed: ${err.message}`)
    stream.abort(err instanceof Error ? err : new Error(String(err)))
  }
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
  if (head === null || typeof head !== 'object' || typeof head.method !== 'string' ||
      typeof head.url !== 'string' || !Array.isArray(head.headers)) return null
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

function matrixError (status, errcode, error) {
  return {
    status,
    headers: [['content-type', 'application/json']],
    body: encoder.encode(JSON.stringify({ errcode, error }))
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
