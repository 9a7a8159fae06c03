/**
 * @libp2p/yamux, minus a window update after every data frame.
 *
 * js yamux (8.0.3) answers every data frame it receives with a window update
 * frame (YamuxStream.sendWindowUpdate runs after each one and sends whenever
 * the window is not full). go-yamux and rust-yamux send one only once half of
 * the window is used up. On a relay that doubled the frames it wrote: each
 * relayed message was forwarded and also answered with an update to its
 * sender (issue 17: 4 frames out of the relay per request instead of 2), and
 * on a long-lived federation stream each answer cost the asker one more frame
 * back through the relay.
 *
 * Here a stream sends a plain window update only once the sender has used at
 * least half of the window (the yamux spec leaves when to the receiver; the
 * sender always has half a window left, so it never stalls on us). Frames that
 * carry a flag (SYN, ACK: opening a stream) and a paused stream's bookkeeping
 * go through libp2p's own code unchanged, and so does the update itself,
 * window growth included.
 *
 * The change is on YamuxStream's prototype, which @libp2p/yamux exports
 * (`@libp2p/yamux/stream`), so it applies to every yamux stream in this
 * JavaScript realm once this module is loaded. Used by peers and the relay
 * alike, in place of `yamux()` from @libp2p/yamux. If a future yamux renames
 * what this relies on (sendWindowUpdate, state, recvWindow, recvWindowCapacity),
 * streams keep libp2p's behaviour (yamux.test.js notices).
 */
import { yamux as libp2pYamux } from '@libp2p/yamux'
import { StreamState, YamuxStream } from '@libp2p/yamux/stream'

export { libp2pYamux }

const original = YamuxStream.prototype.sendWindowUpdate
const patchable = typeof original === 'function' && StreamState?.Established != null

if (patchable && original.hearthHalfWindow !== true) {
  const lazy = function sendWindowUpdate () {
    // Established (or Finished, whose updates libp2p also sends): no flag to
    // carry; skip while the sender still has at least half the window
    if ((this.state === StreamState.Established || this.state === StreamState.Finished) &&
        (this.recvWindow - this.recvWindowCapacity) * 2 < this.recvWindow) return
    return original.call(this)
  }
  lazy.hearthHalfWindow = true
  YamuxStream.prototype.sendWindowUpdate = lazy
}

/** Whether streams wait for half a window before updating it (false: libp2p's behaviour). */
export const halfWindowUpdates = patchable

/**
 * @param {Parameters<typeof libp2pYamux>[0]} [init] @libp2p/yamux's options
 * @returns {ReturnType<typeof libp2pYamux>} a stream muxer factory
 */
export function yamux (init) {
  return libp2pYamux(init)
}
