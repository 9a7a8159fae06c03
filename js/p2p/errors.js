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

/** No reservation on a relay (refused, or not made in time): we are not dialable through it yet; the relay loop retries. */
export class RelayReservationError extends Error {
  constructor (message, options) {
    super(message, options)
    this.name = 'RelayReservationError'
  }
}

/**
 * Another live copy of this server (the same identity, so the same peer ID)
 * is already online on a relay. Two live copies of one server would each
 * extend its rooms from their own state and fork their histories, so this
 * one stays off the network.
 */
export class DuplicateServerError extends Error {
  constructor (peerId, relay) {
    super(`another copy of this server (${peerId}) is already online on relay ${relay}. ` +
      'Two live copies of one server would fork its rooms, so this one stays offline. ' +
      'Stop the other copy (close its browser tab, or stop its headless peer; after moving a server with a backup, ' +
      'wipe the old copy), then start this one again.')
    this.name = 'DuplicateServerError'
    this.peerId = peerId
    this.relay = relay
  }
}

/*
 * Mailbox errors (mailbox.js, js/relay/mailbox). The relay answers a refused
 * deposit with {name, message}; the peer turns the name back into the class
 * (fromWire), and Go branches on the name: all of them mean "keep the
 * transaction in the queue and retry later".
 */

/** A deposit claimed to come from another peer than the connection's own (noise-authenticated) one. */
export class MailboxOriginError extends Error {
  constructor (message, options) {
    super(message, options)
    this.name = 'MailboxOriginError'
  }
}

/** The recipient's mailbox is over its count or byte quota, or the relay's store is over its cap. */
export class MailboxFullError extends Error {
  constructor (message, options) {
    super(message, options)
    this.name = 'MailboxFullError'
  }
}

/** The sender deposits faster than the relay allows; `retryAfterMs` says when a token is back. */
export class MailboxRateLimitedError extends Error {
  constructor (message, options) {
    super(message, options)
    this.name = 'MailboxRateLimitedError'
    /** @type {number} ms until the relay takes another deposit from this sender */
    this.retryAfterMs = options?.retryAfterMs ?? 1000
  }
}

/** The sealed payload is over the relay's per-deposit limit. */
export class MailboxTooLargeError extends Error {
  constructor (message, options) {
    super(message, options)
    this.name = 'MailboxTooLargeError'
  }
}

/** The relay has not seen the recipient within the mail TTL: it only keeps mail for peers that use it. */
export class MailboxUnknownRecipientError extends Error {
  constructor (message, options) {
    super(message, options)
    this.name = 'MailboxUnknownRecipientError'
  }
}

/** The relay's database failed (disk full, I/O error): nothing was stored. */
export class MailboxStoreError extends Error {
  constructor (message, options) {
    super(message, options)
    this.name = 'MailboxStoreError'
  }
}

/** A deposit that can never be valid: a bad ref or recipient, or a payload that is not bytes. */
export class MailboxBadRequestError extends Error {
  constructor (message, options) {
    super(message, options)
    this.name = 'MailboxBadRequestError'
  }
}

/** No relay we are on took the deposit: none offers a mailbox, none knows the recipient, or none answered. */
export class MailboxUnavailableError extends Error {
  constructor (message, options) {
    super(message, options)
    this.name = 'MailboxUnavailableError'
  }
}

const MAILBOX_ERRORS = new Map([MailboxOriginError, MailboxFullError, MailboxRateLimitedError, MailboxTooLargeError,
  MailboxUnknownRecipientError, MailboxStoreError, MailboxBadRequestError]
  // the instance's name, not the class's: a minifier may rename classes in the browser bundle
  .map(type => [new type('').name, type]))

/**
 * The relay's answer {name, message, retryAfterMs?} as an Error of the named
 * class; an unknown name (a newer relay) becomes a MailboxUnavailableError.
 * @param {{name?: unknown, message?: unknown, retryAfterMs?: unknown}} wire
 * @returns {Error}
 */
export function mailboxErrorFromWire (wire) {
  const message = typeof wire?.message === 'string' ? wire.message.slice(0, 1000) : 'the relay refused the deposit'
  const type = MAILBOX_ERRORS.get(wire?.name) ?? MailboxUnavailableError
  const retryAfterMs = Number.isFinite(wire?.retryAfterMs) ? wire.retryAfterMs : undefined
  return new type(message, { retryAfterMs })
}

/**
 * An error as the relay puts it on the wire: {name, message} for the named
 * mailbox errors, MailboxStoreError for anything else (whose message may say
 * more about the relay than a peer needs: it is logged there instead).
 * @param {Error} err
 * @returns {{name: string, message: string, retryAfterMs?: number}}
 */
export function mailboxErrorToWire (err) {
  if (!MAILBOX_ERRORS.has(err?.name)) return { name: 'MailboxStoreError', message: 'the relay could not store the mail' }
  return { name: err.name, message: err.message, ...(err.retryAfterMs != null && { retryAfterMs: err.retryAfterMs }) }
}
