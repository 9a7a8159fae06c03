/**
 * js/push: Go's way out to push gateways (HTTP pushers), shaped as the
 * hearthPush bridge global. startServer (js/bridge/boot.js) installs it
 * before the wasm starts, in the service worker and in the headless peer
 * alike; its shape is documented in js/bridge/globals.js and
 * go/bridge/push_js.go. Go decides what to push and when to retry; this only
 * carries the bytes with the Fetch API.
 */
import { BRIDGE_VERSION } from '../bridge/globals.js'

/** How much of a gateway's answer is kept (Go reads `rejected` from it). */
export const MAX_ANSWER_BYTES = 64 * 1024

/** The gateway could not be reached (no answer at all); Go retries. */
export class PushNetworkError extends Error {
  constructor (message, { cause } = {}) {
    super(message, { cause })
    this.name = 'PushNetworkError'
  }
}

/**
 * @param {object} [options]
 * @param {typeof fetch} [options.fetch] the Fetch API (default globalThis.fetch)
 * @returns {{version: number, notify: (url: string, body: Uint8Array, options?: {signal?: AbortSignal}) => Promise<{status: number, body: Uint8Array}>}}
 */
export function createPushGateway ({ fetch = globalThis.fetch } = {}) {
  return {
    version: BRIDGE_VERSION,
    async notify (url, body, { signal } = {}) {
      let res
      try {
        res = await fetch(url, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body,
          signal,
          redirect: 'error',
          credentials: 'omit'
        })
      } catch (err) {
        if (err?.name === 'AbortError') throw err
        throw new PushNetworkError(`cannot reach the push gateway ${url}: ${err?.message ?? err}`, { cause: err })
      }
      return { status: res.status, body: await readAtMost(res, MAX_ANSWER_BYTES) }
    }
  }
}

async function readAtMost (res, limit) {
  if (res.body === null) return new Uint8Array(0)
  const reader = res.body.getReader()
  const chunks = []
  let size = 0
  try {
    while (size < limit) {
      const { done, value } = await reader.read()
      if (done) break
      chunks.push(value)
      size += value.byteLength
    }
  } catch {
    // A broken answer still has its status; its body is what arrived.
  } finally {
    reader.cancel().catch(() => {})
  }
  const out = new Uint8Array(Math.min(size, limit))
  let off = 0
  for (const c of chunks) {
    const part = c.subarray(0, out.byteLength - off)
    out.set(part, off)
    off += part.byteLength
    if (off === out.byteLength) break
  }
  return out
}
