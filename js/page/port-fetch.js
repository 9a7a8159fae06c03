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
 * does on a network error (callers retry): what an earlier life accepted when
 * that life ends (its lock is released) or the page sees a later life of the
 * same build, and what no life had accepted yet when the controller changes
 * (sw/protocol.js says why not the rest). What the old controller accepted is
 * still answered after a change: an update waits for its events to finish.
 * While a newer worker waits to take over, requests are held
 * (takeoverQuiet in js/page/worker.js): an event would restart the old one.
 */
import { MSG, lifeLockName } from '../../sw/protocol.js'

/**
 * @param {{container?: ServiceWorkerContainer, fetch?: typeof fetch, origin?: string, locks?: LockManager|null,
 *   untilTakeover?: () => Promise<void>|null}} [options]
 *   locks: where the worker lives' locks are (sw/protocol.js lifeLockName); null: none;
 *   untilTakeover: null, or what to wait for before sending anything (a newer worker taking over)
 * @returns {{fetch: typeof fetch, workerStatus: (status: object) => void, close: () => void}}
 *   workerStatus: feed it every status the page gets from its worker (sw/protocol.js)
 */
export function createPortFetch ({
  container = navigator.serviceWorker,
  fetch: fallback = (...args) => globalThis.fetch(...args),
  origin = globalThis.location?.origin,
  locks = globalThis.navigator?.locks ?? null,
  untilTakeover = () => null
} = {}) {
  /**
   * The controller asked last: {controller, worker: its hello's {life, build},
   * null until it says hello, hello: the port it answers on}.
   */
  let link = null
  /** Requests in flight, through any controller: id → {fail, life: the worker life that accepted it, null until one has}. */
  const pending = new Map()
  /** the latest worker life seen in a status */
  let latestLife = 0
  let nextId = 1
  /** lives whose lock was released: they answer nothing more */
  const endedLives = new Set()
  /** lives whose lock this page waits for */
  const watchedLives = new Set()
  const closing = new AbortController()

  /** Fails what `life` accepted as soon as that life ends (its lock is released). */
  function watchLife (life) {
    if (locks === null || watchedLives.has(life)) return
    watchedLives.add(life)
    locks.request(lifeLockName(life), { signal: closing.signal }, () => {
      endedLives.add(life)
      fail(RESTARTED, (request) => request.life === life)
    }).catch(() => {}) // aborted when the page closes its client
  }

  function connect () {
    const controller = container?.controller
    link?.hello.close() // an older worker never answers it
    link = null
    if (!controller) return
    const { port1, port2 } = new MessageChannel()
    const asked = { controller, worker: null, hello: port1 }
    port1.onmessage = (event) => {
      port1.close()
      if (event.data?.hello && link === asked) {
        asked.worker = event.data.hello
        watchLife(asked.worker.life)
      }
    }
    link = asked
    controller.postMessage({ type: MSG.clientHello }, [port2])
  }

  /** Fails the requests in flight that `doomed` picks (every one by default). */
  function fail (why, doomed = () => true) {
    for (const request of pending.values()) {
      if (doomed(request)) request.fail(lost(why))
    }
  }

  /** Fails the requests a life before `life` accepted: that life was killed with them. */
  function failAcceptedBefore (life) {
    fail(RESTARTED, (request) => request.life !== null && request.life < life)
  }

  const onControllerChange = () => {
    // The old worker answers what it accepted (the new one activated once the
    // old one's events were done, so answers may still be on their way), and
    // its lock says when it ends; without locks nothing would say, so those
    // fail too. What no life accepted went to a worker that may never take it.
    fail('the service worker changed', (request) => locks === null || request.life === null)
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
    if (link === null || link.worker === null || link.worker.life === status.life) return
    // A later life of the hello's build: the browser stopped that worker (as
    // idle, or killed it) and started it again. (A newer build comes with a
    // controllerchange, handled there.)
    if (status.build === link.worker.build) {
      failAcceptedBefore(status.life)
      link.worker = { ...link.worker, life: status.life }
    }
  }

  function portFetch (input, init = {}) {
    const quiet = untilTakeover()
    if (quiet === null) return send(input, init)
    const signal = init.signal
    if (signal?.aborted) return Promise.reject(abortReason(signal)) // no abort event will come
    return new Promise((resolve, reject) => {
      const onAbort = () => reject(abortReason(signal))
      signal?.addEventListener('abort', onAbort, { once: true })
      quiet.then(() => {
        signal?.removeEventListener('abort', onAbort)
        if (!signal?.aborted) resolve(send(input, init))
      })
    })
  }

  function send (input, init) {
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
        pending.delete(id)
        signal?.removeEventListener('abort', onAbort)
        port1.close()
      }
      const onAbort = () => {
        port1.postMessage({ id, abort: true }) // Go stops working on it; what was posted is delivered despite the close
        finish()
        reject(abortReason(signal))
      }
      port1.onmessage = (event) => {
        if (event.data?.accepted !== undefined) {
          const waiting = pending.get(id)
          if (waiting === undefined) return
          waiting.life = event.data.accepted
          watchLife(waiting.life)
          // That life's end or a later life's status came first (no order
          // holds between them): this request died with the life that took it.
          if (endedLives.has(waiting.life) || waiting.life < through.worker.life) waiting.fail(lost(RESTARTED))
          return
        }
        finish()
        try {
          resolve(new Response(event.data.body, { status: event.data.status, headers: event.data.headers }))
        } catch (err) {
          reject(new TypeError(`the worker's answer is not a response: ${err.message}`))
        }
      }
      pending.set(id, {
        life: null,
        fail: (err) => {
          finish()
          reject(err)
        }
      })
      signal?.addEventListener('abort', onAbort, { once: true })
      try {
        through.controller.postMessage({ type: MSG.clientRequest, request }, bytes === null ? [port2] : [port2, bytes])
      } catch (err) {
        finish()
        reject(err instanceof TypeError ? err : new TypeError(`the request could not be posted to the service worker: ${err.message}`))
      }
    })
  }

  return {
    fetch: portFetch,
    workerStatus,
    close () {
      closing.abort()
      container?.removeEventListener('controllerchange', onControllerChange)
      container?.removeEventListener('message', onMessage)
      fail('the page closed its client')
      link?.hello.close()
      link = null
    }
  }
}

const RESTARTED = 'the service worker was restarted'

/** What a request lost with its worker fails with: a fetch's network error. */
function lost (why) {
  return new TypeError(`the request was lost: ${why}`)
}

/** What fetch rejects with when its signal aborts. */
function abortReason (signal) {
  return signal.reason ?? new DOMException('This operation was aborted', 'AbortError')
}
