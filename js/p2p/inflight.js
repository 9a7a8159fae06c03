/**
 * How many bytes of incoming federation requests each remote peer has in
 * flight (announced, being read, or waiting for Go's answer). Without a
 * bound, one peer could fill 64 streams × 16 MiB per connection before any
 * check, and a flood from one peer pushed another's latency from ~40 ms to
 * 1.6 s (issue 11). A request that would take its peer past the budget is
 * refused before its body is read.
 */
import { MAX_IN_FLIGHT_BYTES_PER_PEER } from './constants.js'

/**
 * @param {{maxBytesPerPeer?: number}} [options]
 */
export function createInFlightBudget ({ maxBytesPerPeer = MAX_IN_FLIGHT_BYTES_PER_PEER } = {}) {
  /** peer ID → bytes in flight; a peer with none has no entry. */
  const inFlight = new Map()
  return {
    maxBytesPerPeer,
    /**
     * Reserves bytes for peer; returns the function that gives them back
     * (call it once), or null when peer would go over its budget.
     * @param {string} peer
     * @param {number} bytes
     */
    reserve (peer, bytes) {
      const used = inFlight.get(peer) ?? 0
      if (used + bytes > maxBytesPerPeer) return null
      inFlight.set(peer, used + bytes)
      let released = false
      return () => {
        if (released) return
        released = true
        const left = (inFlight.get(peer) ?? 0) - bytes
        if (left > 0) inFlight.set(peer, left)
        else inFlight.delete(peer)
      }
    },
    /** Bytes peer has in flight now. */
    used (peer) { return inFlight.get(peer) ?? 0 }
  }
}
