/**
 * Calls across a MessagePort between the service worker and the page that
 * hosts WebRTC for it. Either side can call the other's handlers.
 *
 * Every call is acknowledged on arrival, before its handler runs: a page that
 * was closed (its port silently dead) is noticed within ackTimeoutMs, not
 * after a whole request timeout, and the caller falls back to the relay.
 *
 * Wire: {kind: 'call', id, method, args} → {kind: 'ack', id}, then
 * {kind: 'result', id, value} or {kind: 'error', id, error: {name, message}};
 * {kind: 'bye'} when a side goes away on purpose.
 */

/** The other side of the port is gone (closed tab, replaced host, said bye). */
export class PortClosedError extends Error {
  constructor (message, options) {
    super(message, options)
    this.name = 'PortClosedError'
  }
}

/**
 * @param {MessagePort} port
 * @param {Record<string, (...args: any[]) => any>} handlers what the other side may call
 * @param {{ackTimeoutMs?: number, onClose?: (reason: Error) => void}} [options]
 */
export function connectPort (port, handlers, { ackTimeoutMs = 2000, onClose } = {}) {
  const pending = new Map()
  let nextId = 1
  let closed = null

  const shut = (reason) => {
    if (closed) return
    closed = reason
    for (const call of pending.values()) call.fail(reason)
    pending.clear()
    port.onmessage = null
    port.close()
    onClose?.(reason)
  }

  port.onmessage = async (event) => {
    const msg = event.data
    if (msg?.kind === 'bye') return shut(new PortClosedError('the other side said bye'))
    if (msg?.kind === 'call') {
      port.postMessage({ kind: 'ack', id: msg.id })
      const handler = Object.hasOwn(handlers, msg.method) ? handlers[msg.method] : null
      try {
        if (handler === null) throw new TypeError(`no such method: ${msg.method}`)
        const value = await handler(...(msg.args ?? []))
        if (!closed) port.postMessage({ kind: 'result', id: msg.id, value })
      } catch (err) {
        if (!closed) port.postMessage({ kind: 'error', id: msg.id, error: { name: err?.name ?? 'Error', message: err?.message ?? String(err) } })
      }
      return
    }
    const call = pending.get(msg?.id)
    if (call === undefined) return
    if (msg.kind === 'ack') return call.acked()
    pending.delete(msg.id)
    if (msg.kind === 'result') call.resolve(msg.value)
    else call.fail(Object.assign(new Error(msg.error?.message), { name: msg.error?.name ?? 'Error' }))
  }
  port.start?.()

  return {
    /**
     * @param {string} method
     * @param {any[]} args structured-cloneable
     * @param {{signal?: AbortSignal}} [opts]
     */
    call (method, args, { signal } = {}) {
      if (closed) return Promise.reject(closed)
      const id = nextId++
      return new Promise((resolve, reject) => {
        const ackTimer = setTimeout(() => shut(new PortClosedError(`no answer to ${method} within ${ackTimeoutMs} ms: the page is gone`)), ackTimeoutMs)
        const onAbort = () => finish(() => reject(signal.reason))
        const finish = (settle) => {
          clearTimeout(ackTimer)
          signal?.removeEventListener('abort', onAbort)
          pending.delete(id)
          settle()
        }
        pending.set(id, {
          acked: () => clearTimeout(ackTimer),
          resolve: (value) => finish(() => resolve(value)),
          fail: (err) => finish(() => reject(err))
        })
        signal?.addEventListener('abort', onAbort, { once: true })
        port.postMessage({ kind: 'call', id, method, args })
      })
    },
    /** Ends the connection and tells the other side. */
    close () {
      if (closed) return
      try { port.postMessage({ kind: 'bye' }) } catch {}
      shut(new PortClosedError('closed'))
    },
    get closed () { return closed !== null }
  }
}
