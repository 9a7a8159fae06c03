/**
 * A fetch for the client (createClient's `fetch` option) that sends
 * client-server API requests to the service worker over a MessagePort
 * instead: a page→worker fetch costs the browser 2–3 ms of its own, a port
 * round trip 0.1 ms (the wire and the numbers: sw/protocol.js, "The client
 * port"). Anything else, and everything while no port is usable, goes to the
 * real fetch.
 *
 * The port is used only once the controlling worker said hello on it: during
 * an update an older worker that does not speak it may control the page. A
 * port does not say when its worker dies, so requests still waiting on it
 * fail with a TypeError, as a fetch does on a network error (callers retry),
 * when the controller changes, or when the worker's status shows a new life
 * of the same build (the browser stopped and restarted it); the page then
 * hands a new port to the worker it has.
 *
 * A /sync long-poll goes as a message event with a port of its own
 * (MSG.clientRequest): an event keeps the worker alive while it waits, and
 * wakes a stopped one, as the long-poll's fetch did.
 */
import { MSG, isLongPoll } from '../../sw/protocol.js'

/**
 * ms without a word from the port's worker after which it may have been
 * stopped as idle (browsers do so after ~30 s without events): the next
 * request goes by fetch, which starts it again, and a new port is handed over.
 * The page's keep-alive replies (every 10 s) count as words.
 */
const STALE_MS = 20000

/**
 * @param {{container?: ServiceWorkerContainer, fetch?: typeof fetch, origin?: string, now?: () => number, staleMs?: number}} [options]
 * @returns {{fetch: typeof fetch, workerStatus: (status: object) => void, close: () => void}}
 *   workerStatus: feed it every status the page gets from its worker (sw/protocol.js)
 */
export function createPortFetch ({
  container = navigator.serviceWorker,
  fetch: fallback = (...args) => globalThis.fetch(...args),
  origin = globalThis.location?.origin,
  now = () => performance.now(),
  staleMs = STALE_MS
} = {}) {
  /**
   * The port to the current controller: {port, controller, worker: the
   * hello's {life, build} or null until it came, heardAt, pending: id → {answer, fail}}.
   */
  let link = null
  /** every link with requests in flight: the current one and any retired as stale */
  const links = new Set()
  /** the latest worker life seen in a status */
  let latestLife = 0
  let nextId = 1

  function connect () {
    link = null
    const controller = container?.controller
    if (!controller) return
    const { port1, port2 } = new MessageChannel()
    const opened = { port: port1, controller, worker: null, heardAt: now(), pending: new Map() }
    port1.onmessage = (event) => {
      opened.heardAt = now()
      if (event.data?.hello) opened.worker = event.data.hello
      else opened.pending.get(event.data?.id)?.answer(event.data)
    }
    link = opened
    links.add(opened)
    controller.postMessage({ type: MSG.clientPort }, [port2])
  }

  /** Fails every request in flight on any port and closes the ports. */
  function failAll (why) {
    for (const each of links) {
      for (const request of each.pending.values()) request.fail(new TypeError(`the request was lost: ${why}`))
      each.port.close()
    }
    links.clear()
    link = null
  }

  /** Closes a link that is no longer the current one once nothing waits on it. */
  function closeIfDone (each) {
    if (each === link || each.pending.size > 0) return
    each.port.close()
    links.delete(each)
  }

  const onControllerChange = () => {
    failAll('the service worker changed')
    connect()
  }
  // The controller's replies (to the keep-alive every 10 s among others) say it is still there.
  const onMessage = (event) => { if (event.data?.type === MSG.status) workerStatus(event.data.status) }
  container?.addEventListener('controllerchange', onControllerChange)
  container?.addEventListener('message', onMessage)
  connect()

  /** A status from the worker (a reply or a broadcast): a sign of life, or of a restart. */
  function workerStatus (status) {
    if (typeof status?.life !== 'number' || status.life < latestLife) return
    const newLife = status.life > latestLife
    latestLife = status.life
    if (link === null) return
    if (link.worker?.life === status.life) {
      link.heardAt = now()
      return
    }
    // A later life of the port's build: the browser stopped the port's
    // worker and started it again. A port still unanswered may have gone to
    // a worker stopped before it could answer. (A newer build comes with a
    // controllerchange, handled there.)
    if (newLife && (link.worker === null || status.build === link.worker.build)) {
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
    if (now() - link.heardAt > staleMs) {
      const stale = link
      connect()
      closeIfDone(stale)
      return fallback(input, init)
    }
    const signal = init.signal
    if (signal?.aborted) return Promise.reject(abortReason(signal))

    const through = link
    const id = nextId++
    const bytes = body === null ? null : new TextEncoder().encode(body).buffer
    const request = { id, method: (init.method ?? 'GET').toUpperCase(), url: url.href, headers: [...new Headers(init.headers)], body: bytes }
    const transfer = bytes === null ? [] : [bytes]
    return new Promise((resolve, reject) => {
      let port = through.port
      const finish = () => {
        through.pending.delete(id)
        signal?.removeEventListener('abort', onAbort)
        if (port !== through.port) port.close()
        closeIfDone(through)
      }
      const onAbort = () => {
        port.postMessage({ id, abort: true }) // Go stops working on it
        if (port !== through.port) port.close() // what was posted is still delivered
        through.pending.delete(id)
        closeIfDone(through)
        reject(abortReason(signal))
      }
      through.pending.set(id, {
        answer: (message) => {
          finish()
          try {
            resolve(new Response(message.body, { status: message.status, headers: message.headers }))
          } catch (err) {
            reject(new TypeError(`the worker's answer is not a response: ${err.message}`))
          }
        },
        fail: (err) => {
          finish()
          reject(err)
        }
      })
      signal?.addEventListener('abort', onAbort, { once: true })
      if (isLongPoll(request)) {
        const own = new MessageChannel()
        port = own.port1
        port.onmessage = (event) => {
          through.heardAt = now()
          through.pending.get(event.data?.id)?.answer(event.data)
        }
        through.controller.postMessage({ type: MSG.clientRequest, request }, [own.port2, ...transfer])
      } else {
        port.postMessage(request, transfer)
      }
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
