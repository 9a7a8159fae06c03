/**
 * Peer side of MAILBOX_PROTOCOL (frames: mailbox-frames.js): one long-lived
 * stream to one relay, opened once our reservation there is made (index.js).
 *
 * On it we deposit mail for peers that are away, and the relay pushes our
 * mail and the notices about mail we deposited. Each pushed mail goes to
 * onMail, one at a time in the relay's order (oldest first); when onMail
 * resolves we ack it and the relay deletes it; when it rejects we do not, and
 * the relay pushes it again on the next stream (it keeps at most
 * MAILBOX_PUSH_WINDOW unacked per stream, so mail that keeps failing holds up
 * what comes after it until then). Notices go to onNotice the same way.
 */
import { MAILBOX_PROTOCOL, MAILBOX_REF_PATTERN, MAX_MAILBOX_DEPOSIT_BYTES } from './constants.js'
import {
  MailboxBadRequestError, MailboxTooLargeError, P2PTimeoutError, PeerUnreachableError, mailboxErrorFromWire
} from './errors.js'
import { decodeFrame, frameSender, mailboxStream } from './mailbox-frames.js'

/**
 * @typedef {object} MailboxHandlers
 * @property {string} self our peer ID: the `from` of our deposits
 * @property {((mail: {from: string, bytes: Uint8Array, relay: string}) => Promise<void>) | undefined} onMail
 *   without it mail is left on the relay
 * @property {((notice: {kind: 'delivered'|'expired', to: string, ref: string, relay: string}) => Promise<void>) | undefined} onNotice
 * @property {number} timeoutMs how long a deposit waits for the relay's answer
 * @property {AbortSignal} signal closes the stream
 * @property {{warn?: Function}} [logger]
 */

/**
 * Opens our mailbox on a relay.
 * @param {import('@libp2p/interface').Libp2p} node
 * @param {import('@libp2p/interface').PeerId} relay
 * @param {MailboxHandlers} handlers
 * @returns {Promise<{deposit: (to: string, ref: string, bytes: Uint8Array, opts?: {signal?: AbortSignal}) =>
 *   Promise<{expiresAt: number}>, closed: Promise<void>}>} closed resolves when the stream ends
 * @throws the dial's error; UnsupportedProtocolError when the relay keeps no mail
 */
export async function openMailbox (node, relay, handlers) {
  const stream = await node.dialProtocol(relay, MAILBOX_PROTOCOL, { signal: handlers.signal })
  const session = new MailboxSession(stream, relay.toString(), handlers)
  return { deposit: (...args) => session.deposit(...args), closed: session.run() }
}

class MailboxSession {
  constructor (stream, relay, handlers) {
    this.stream = stream
    this.relay = relay
    this.handlers = handlers
    this.lp = mailboxStream(stream)
    this.send = frameSender(this.lp, err => stream.abort(err))
    /** deposit id → {resolve, reject} until the relay answers */
    this.pending = new Map()
    this.nextId = 1
    /** mail and notices are handed over one at a time, in the relay's order */
    this.mailChain = Promise.resolve()
    this.noticeChain = Promise.resolve()
    /** ids to ack, sent together once per turn of the event loop */
    this.acks = { mail: [], notices: [] }
    this.ackTimer = null
  }

  async run () {
    const { signal } = this.handlers
    const onAbort = () => this.stream.abort(new Error('mailbox closed'))
    signal.addEventListener('abort', onAbort, { once: true })
    try {
      for (;;) {
        let bytes
        try {
          bytes = await this.lp.read({ signal })
        } catch (err) {
          if (signal.aborted || err.name === 'UnexpectedEOFError' || this.stream.status !== 'open') return
          throw err
        }
        this.handle(decodeFrame(bytes.subarray()))
      }
    } catch (err) {
      this.handlers.logger?.warn?.(`p2p: mailbox on relay ${this.relay} broke: ${err.message}`)
    } finally {
      signal.removeEventListener('abort', onAbort)
      clearTimeout(this.ackTimer)
      if (this.stream.status === 'open') this.stream.abort(new Error('mailbox stream ended'))
      const gone = new PeerUnreachableError(`the mailbox stream to relay ${this.relay} closed`)
      for (const { reject } of this.pending.values()) reject(gone)
      this.pending.clear()
    }
  }

  handle ({ head, payload }) {
    if ('id' in head) {
      const waiting = this.pending.get(head.id)
      this.pending.delete(head.id)
      if (head.ok === true) waiting?.resolve({ expiresAt: Number(head.expiresAt) })
      else waiting?.reject(mailboxErrorFromWire(head.error))
    } else if (isObject(head.mail)) {
      const { mid, from } = head.mail
      if (!Number.isSafeInteger(mid) || typeof from !== 'string') return
      const bytes = payload.slice() // our own copy, exactly sized, for Go
      const mail = { from, bytes, relay: this.relay }
      this.mailChain = this.mailChain.then(() => this.handOver('mail', mid, this.handlers.onMail, mail))
    } else if (isObject(head.notice)) {
      const { nid, kind, to, ref } = head.notice
      if (!Number.isSafeInteger(nid) || typeof kind !== 'string' || typeof to !== 'string' || typeof ref !== 'string') return
      const notice = { kind, to, ref, relay: this.relay }
      this.noticeChain = this.noticeChain.then(() => this.handOver('notices', nid, this.handlers.onNotice, notice))
    }
    // anything else: a newer relay saying more
  }

  /** Calls the handler; acks only if there is one and it resolved. */
  async handOver (kind, id, handler, arg) {
    if (handler == null) return
    try {
      await handler(arg)
    } catch (err) {
      this.handlers.logger?.warn?.(`p2p: ${kind === 'mail' ? 'mail' : 'notice'} ${id} from relay ${this.relay} not taken, the relay will offer it again: ${err.message}`)
      return
    }
    this.acks[kind].push(id)
    // setTimeout, not setImmediate: this runs in service workers too.
    this.ackTimer ??= setTimeout(() => {
      this.ackTimer = null
      const { mail, notices } = this.acks
      this.acks = { mail: [], notices: [] }
      if (mail.length > 0) this.send({ op: 'ack', mail })
      if (notices.length > 0) this.send({ op: 'ack-notices', notices })
    }, 0)
  }

  /**
   * @param {string} to recipient peer ID
   * @param {string} ref the sender's transaction ID
   * @param {Uint8Array} bytes sealed to the recipient
   * @param {{signal?: AbortSignal}} [opts]
   * @returns {Promise<{expiresAt: number}>} once the relay committed it to disk
   */
  deposit (to, ref, bytes, { signal } = {}) {
    if (typeof to !== 'string' || typeof ref !== 'string' || !MAILBOX_REF_PATTERN.test(ref) || !(bytes instanceof Uint8Array)) {
      return Promise.reject(new MailboxBadRequestError('deposit(peerId, ref, bytes): ref is 1–100 of [A-Za-z0-9._~-], bytes a Uint8Array'))
    }
    if (bytes.byteLength > MAX_MAILBOX_DEPOSIT_BYTES) {
      return Promise.reject(new MailboxTooLargeError(`${bytes.byteLength} bytes is more than any relay takes`))
    }
    if (signal?.aborted) return Promise.reject(signal.reason)
    if (this.stream.status !== 'open') return Promise.reject(new PeerUnreachableError(`the mailbox stream to relay ${this.relay} is closed`))
    const id = this.nextId++
    const { promise, resolve, reject } = Promise.withResolvers()
    this.pending.set(id, { resolve, reject })
    const timeoutMs = this.handlers.timeoutMs
    const timeout = AbortSignal.timeout(timeoutMs)
    const gaveUp = signal == null ? timeout : AbortSignal.any([timeout, signal])
    const onGiveUp = () => {
      this.pending.delete(id)
      reject(signal?.aborted ? signal.reason : new P2PTimeoutError(`relay ${this.relay} did not answer a deposit within ${timeoutMs} ms`))
    }
    gaveUp.addEventListener('abort', onGiveUp, { once: true })
    this.send({ id, op: 'deposit', from: this.handlers.self, to, ref }, bytes)
    return promise.finally(() => gaveUp.removeEventListener('abort', onGiveUp))
  }
}

function isObject (value) {
  return value !== null && typeof value === 'object'
}
