/**
 * A fetch for the client (createClient's `fetch` option) that sends
 * client-server API requests to the service worker as messages, each
 * answered on a MessagePort of its own: a page→worker fetch costs the browser
 * 2–3.5 ms of its own, this 0.4–0.5 ms (the wire, the numbers and why not one
 * port held open: sw/protocol.js, "The client port"). Anything else, and
 * everything while the controller has not said it speaks this, goes to the
 * real fetch.
 *
 * The controller is asked (MSG.clientHello) when the page starts and after
 * every change of controller: during an update an older worker that does not
 * speak it may control the page. A message event keeps its worker alive
 * until answered, as a fetch does; but a worker that is killed (a crash,
 * DevTools) answers nothing, so what waits fails with a TypeError, as a fetch
 * does on a network error (callers retry), when the controller changes or the
 * page sees a later life of the same build.
 */
import { MSG } from '../../sw/protocol.js'

/**
 * @param {{container?: ServiceWorkerContainer, fetch?: typeof fetch, origin?: string}} [options]
 * @returns {{fetch: typeof fetch, workerStatus: (status: object) => void, close: () => void}}
 *   workerStatus: feed it every status the page gets from its worker (sw/protocol.js)
 */
export function createPortFetch ({
  container = navigator.serviceWorker,
  fetch: fallback = (...args) => globalThis.fetch(...args),
  origin = globalThis.location?.origin
} = {}) {
  /**
   * The controller asked last: {controller, worker: its hello's {life, build},
   * null until it says hello, hello: the port it answers on, pending: id → {fail}}.
   */
  let link = null
  /** the latest worker life seen in a status */
  let latestLife = 0
  let nextId = 1

  function connect () {
    const controller = container?.controller
    link?.hello.close() // an older worker never answers it
    link = null
    if (!controller) return
    const { port1, port2 } = new MessageChannel()
    const asked = { controller, worker: null, hello: port1, pending: new Map() }
    port1.onmessage = (event) => {
      port1.close()
      if (event.data?.hello && link === asked) asked.worker = event.data.hello
    }
    link = asked
    controller.postMessage({ type: MSG.clientHello }, [port2])
  }

  /** Fails every request in flight (they went to a worker that may be gone). */
  function failAll (why) {
    for (const request of link?.pending.values() ?? []) request.fail(new TypeError(`the request was lost: ${why}`))
    link?.hello.close()
    link = null
  }

  const onControllerChange = () => {
    failAll('the service worker changed')
    connect()
  }
  // The controller's replies (to the keep-alive among others) show a restarted worker at once.
  const onMessage = (event) => { if (event.data?.type === MSG.status) workerStatus(event.data.status) }
  container?.addEventListener('controllerchange', onControllerChange)
  container?.addEventListener('message', onMessage)
  connect()

  /** A status from the worker (a reply or a broadcast): a restart shows as a later life. */
  function workerStatus (status) {
    if (typeof status?.life !== 'number' || status.life <= latestLife) return
    latestLife = status.life
    if (link === null || link.worker?.life === status.life) return
    // A later life of the hello's build: the browser killed that worker and
    // started it again. A hello still awaited may have gone to a worker
    // stopped before it could answer. (A newer build comes with a
    // controllerchange, handled there.)
    if (link.worker === null || status.build === link.worker.build) {
      failAll('the service worker was restarted')
      connect()
    }
  }

  function portFetch (input, init = {}) {
    const url = new URL(input instanceof Request ? input.url : String(input), origin)
    const body = init.body ?? null
    const usable = link?.worker != null && !(input instanceof Request) && url.origin === origin &&
      url.pathname.startsWith('/_matrix/client/') && (body === null || typeof body === 'string')
    if (!usable) return fallback(input, init)
    const signal = init.signal
    if (signal?.aborted) return Promise.reject(abortReason(signal))

    const through = link
    const id = nextId++
    const bytes = body === null ? null : new TextEncoder().encode(body).buffer
    const request = { id, method: (init.method ?? 'GET').toUpperCase(), url: url.href, headers: [...new Headers(init.headers)], body: bytes }
    const { port1, port2 } = new MessageChannel()
    return new Promise((resolve, reject) => {
      const finish = () => {
        through.pending.delete(id)
        signal?.removeEventListener('abort', onAbort)
        port1.close()
      }
      const onAbort = () => {
        port1.postMessage({ id, abort: true }) // Go stops working on it; what was posted is delivered despite the close
        finish()
        reject(abortReason(signal))
      }
      port1.onmessage = (event) => {
        finish()
        try {
          resolve(new Response(event.data.body, { status: event.data.status, headers: event.data.headers }))
        } catch (err) {
          reject(new TypeError(`the worker's answer is not a response: ${err.message}`))
        }
      }
      through.pending.set(id, {
        fail: (err) => {
          finish()
          reject(err)
        }
      })
      signal?.addEventListener('abort', onAbort, { once: true })
      through.controller.postMessage({ type: MSG.clientRequest, request }, bytes === null ? [port2] : [port2, bytes])
    })
  }

  return {
    fetch: portFetch,
    workerStatus,
    close () {
      container?.removeEventListener('controllerchange', onControllerChange)
      container?.removeEventListener('message', onMessage)
      failAll('the page closed its client')
    }
  }
}

/** What fetch rejects with when its signal aborts. */
function abortReason (signal) {
  return signal.reason ?? new DOMException('This operation was aborted', 'AbortError')
}
