/**
 * Errors of the p2p layer. Each has a stable `name`: it crosses the bridge to
 * Go as {name, message} and Go branches on the name (go/bridge/p2p_js.go).
 */

/** The peer cannot be reached now: not on the relay, or its connection broke. Fails fast. */
export class PeerUnreachableError extends Error {
  constructor (message, options) {
    super(message, options)
    this.name = 'PeerUnreachableError'
  }
}

/** The peer was reached but did not answer within the request timeout. */
export class P2PTimeoutError extends Error {
  constructor (message, options) {
    super(message, options)
    this.name = 'P2PTimeoutError'
  }
}

/** The other side broke the framing: bad lengths, over a limit, bad JSON, early end. */
export class P2PProtocolError extends Error {
  constructor (message, options) {
    super(message, options)
    this.name = 'P2PProtocolError'
  }
}

/** A request or response is larger than the limits in framing.js allow. */
export class P2PTooLargeError extends Error {
  constructor (message, options) {
    super(message, options)
    this.name = 'P2PTooLargeError'
  }
}

/** roundTrip was called before start() or after stop(). */
export class P2PNotRunningError extends Error {
  constructor (message, options) {
    super(message, options)
    this.name = 'P2PNotRunningError'
  }
}
