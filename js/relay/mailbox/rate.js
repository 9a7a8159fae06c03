/**
 * Per-sender deposit rate: a token bucket per peer, in memory. A relay
 * restart refills every bucket, which costs at most one burst per sender.
 */

/**
 * @param {{perSecond: number, burst: number}} rate tokens added per second, bucket size
 * @returns {{take: (peer: string, now: number) => number, prune: (now: number) => void}}
 *   take: 0 when a token was taken, else ms until one is back
 */
export function createRateLimiter ({ perSecond, burst }) {
  /** peer → {tokens, at}: tokens as of `at` (ms); only peers that deposited lately */
  const buckets = new Map()
  const fill = (bucket, now) => Math.min(burst, bucket.tokens + (now - bucket.at) * perSecond / 1000)

  return {
    take (peer, now) {
      const bucket = buckets.get(peer) ?? { tokens: burst, at: now }
      const tokens = fill(bucket, now)
      if (tokens < 1) return Math.ceil((1 - tokens) * 1000 / perSecond)
      buckets.set(peer, { tokens: tokens - 1, at: now })
      return 0
    },
    /** forgets full buckets: they hold nothing a fresh one would not */
    prune (now) {
      for (const [peer, bucket] of buckets) if (fill(bucket, now) >= burst) buckets.delete(peer)
    }
  }
}
