/**
 * The worker's side of the client port (the wire is in sw/protocol.js): a
 * page's client-server API requests arrive as messages and each is answered
 * by the same function that answers a fetch event, so auth, headers,
 * Server-Timing and Matrix errors are the same either way.
 *
 * Requests are served concurrently: a /sync long-poll waiting on the port
 * holds up nothing behind it.
 */
import { isServerPath } from './protocol.js'

/**
 * @param {{answer: (request: Request) => Promise<Response>, origin: string, hello: {life: number, build: string}}} options
 *   answer: the fetch event's path into Go; origin: the worker's own (only its server paths are served)
 * @returns {{accept: (port: MessagePort) => void, serveOne: (request: object, port: MessagePort) => Promise<void>}}
 *   accept: a page's client port, answered until the worker ends;
 *   serveOne: one request whose answer goes on its own port (MSG.clientRequest), resolves once answered
 */
export function createClientPorts ({ answer, origin, hello }) {
  /** Serves request message `message`, posts the one answer on `port`. */
  async function serve (message, port, inFlight) {
    const cut = new AbortController()
    inFlight.set(message.id, cut)
    let reply
    try {
      reply = await answerMessage(message, cut.signal)
    } finally {
      inFlight.delete(message.id)
    }
    if (cut.signal.aborted) return // the page gave up and no longer waits for it
    port.postMessage({ id: message.id, ...reply }, reply.body ? [reply.body] : [])
  }

  async function answerMessage (message, signal) {
    let request
    try {
      request = toRequest(message, signal)
    } catch (err) {
      return toReply(matrixError(400, 'M_BAD_JSON', `not a request: ${err.message}`))
    }
    const url = new URL(request.url)
    if (url.origin !== origin || !isServerPath(url.pathname)) {
      return toReply(matrixError(404, 'M_UNRECOGNIZED', `${url.origin}${url.pathname} is not served by this worker`))
    }
    let response
    try {
      response = await answer(request)
    } catch (err) {
      response = matrixError(500, 'M_UNKNOWN', `the Hearth server could not answer: ${err.message}`)
    }
    return toReply(response)
  }

  /** Wires abort messages and requests on `port` to serve(). */
  function listen (port, inFlight, onRequest) {
    port.onmessage = (event) => {
      const message = event.data
      if (message?.abort === true) inFlight.get(message.id)?.abort()
      else onRequest(message)
    }
  }

  return {
    accept (port) {
      const inFlight = new Map()
      listen(port, inFlight, (message) => { serve(message, port, inFlight).catch(() => {}) })
      port.postMessage({ hello })
    },
    serveOne (message, port) {
      const inFlight = new Map()
      listen(port, inFlight, () => {}) // only aborts come on a request's own port
      return serve(message, port, inFlight).catch(() => {}).finally(() => port.close())
    }
  }
}

/** A Request from a request message; throws when it is malformed. */
function toRequest (message, signal) {
  const url = new URL(message?.url)
  const body = message.body instanceof ArrayBuffer && message.method !== 'GET' && message.method !== 'HEAD' ? message.body : null
  return new Request(url, { method: message.method, headers: message.headers, body, signal })
}

/** The answer message's fields from a Response; its body as one transferable ArrayBuffer. */
async function toReply (response) {
  const bytes = response.body === null ? null : await response.arrayBuffer()
  return { status: response.status, headers: [...response.headers], body: bytes !== null && bytes.byteLength > 0 ? bytes : null }
}

function matrixError (status, errcode, message) {
  return new Response(JSON.stringify({ errcode, error: message }), { status, headers: { 'Content-Type': 'application/json' } })
}
