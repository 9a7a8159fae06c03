/**
 * The worker's side of the client port (the wire is in sw/protocol.js): a
 * page's client-server API requests arrive as message events, each with a
 * port for its answer, and each is answered by the same function that
 * answers a fetch event, so auth, headers, Server-Timing and Matrix errors
 * are the same either way.
 *
 * Requests are served concurrently: a /sync long-poll that waits holds up
 * nothing behind it.
 */
import { answeredBody, withSentBody } from '../js/bridge/globals.js'
import { isServerPath } from './protocol.js'

/**
 * @param {{answer: (request: Request) => Promise<Response>, origin: string, hello: {life: number, build: string}, lifeLockHeld?: Promise<void>}} options
 *   answer: the fetch event's path into Go; origin: the worker's own (only its server paths are served);
 *   lifeLockHeld: resolves once this life holds its lock (sw/protocol.js lifeLockName): a page that
 *   learns of the life asks for that lock to know when the life ends, so the life is named only then
 * @returns {{hello: (port: MessagePort) => Promise<void>, serve: (message: object, port: MessagePort) => Promise<void>}}
 *   hello: says on `port` that this worker answers client requests (MSG.clientHello);
 *   serve: answers request `message` on its `port` (MSG.clientRequest), resolves once answered
 */
export function createClientPorts ({ answer, origin, hello, lifeLockHeld = Promise.resolve() }) {
  return {
    async hello (port) {
      await lifeLockHeld
      port.postMessage({ hello })
      port.close()
    },
    async serve (message, port) {
      const cut = new AbortController()
      port.onmessage = (event) => { if (event.data?.abort === true) cut.abort() }
      await lifeLockHeld
      // Which life took it: if a later life shows up before the answer, this
      // one was killed with the request (the page fails it); a request this
      // life never took is still delivered, to the next life.
      port.postMessage({ id: message?.id, accepted: hello.life })
      try {
        const reply = await answerMessage(message, cut.signal)
          .catch((err) => toReply(matrixError(500, 'M_UNKNOWN', `the Hearth server's answer was lost: ${err.message}`)))
        // After an abort the page no longer waits for it.
        if (!cut.signal.aborted) port.postMessage({ id: message?.id, ...reply }, reply.body ? [reply.body] : [])
      } finally {
        port.close()
      }
    }
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
}

/** A Request from a request message; throws when it is malformed. */
function toRequest (message, signal) {
  const url = new URL(message?.url)
  const body = message.body instanceof ArrayBuffer && message.method !== 'GET' && message.method !== 'HEAD' ? message.body : null
  const request = new Request(url, { method: message.method, headers: message.headers, body, signal })
  return body === null ? request : withSentBody(request, new Uint8Array(body))
}

/** The answer message's fields from a Response; its body as one transferable ArrayBuffer. */
async function toReply (response) {
  const bytes = response.body === null ? null : bufferOf(answeredBody(response)) ?? await response.arrayBuffer()
  return { status: response.status, headers: [...response.headers], body: bytes !== null && bytes.byteLength > 0 ? bytes : null }
}

/** The ArrayBuffer of bytes, to transfer (a copy when they are a view of part of one). */
function bufferOf (bytes) {
  if (bytes === undefined) return undefined
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes.buffer : bytes.slice().buffer
}

function matrixError (status, errcode, message) {
  return new Response(JSON.stringify({ errcode, error: message }), { status, headers: { 'Content-Type': 'application/json' } })
}
