/**
 * Relay side of MAILBOX_PROTOCOL (frames: js/p2p/mailbox-frames.js).
 *
 * Each peer holds one stream per relay (a restarting peer may briefly hold
 * two). On it the relay
 * - takes deposits: checks them (origin = the connection's peer, sizes,
 *   recipient known, sender's rate), stores them through the store's group
 *   commit and answers only after the COMMIT;
 * - pushes the peer's mail, oldest first, at most MAILBOX_PUSH_WINDOW unacked
 *   per stream, on open and as deposits for it arrive (no polling); and the
 *   notices about mail the peer deposited, the same way;
 * - deletes mail and notices as they are acked; an ack turns a mail into a
 *   'delivered' notice for its sender.
 * Unacked pushes are not tracked across streams: the next stream starts from
 * the oldest mail again. The payload is never parsed, only counted and stored.
 *
 * Bad frames (not a frame, a head that is not JSON or too big, an ack that is
 * not a list of ids, a deposit without an id) end that stream, nothing else.
 */
import { peerIdFromString } from '@libp2p/peer-id'
import { MAILBOX_PROTOCOL, MAILBOX_PUSH_WINDOW, MAILBOX_REF_PATTERN } from '../../p2p/constants.js'
import {
  MailboxBadRequestError, MailboxOriginError, MailboxRateLimitedError, MailboxTooLargeError,
  MailboxUnknownRecipientError, P2PProtocolError, mailboxErrorToWire
} from '../../p2p/errors.js'
import { decodeFrame, frameSender, mailboxStream } from '../../p2p/mailbox-frames.js'
import { createRateLimiter } from './rate.js'

/** Ids in one ack frame: far above what a window of pushes needs. */
const MAX_ACK_IDS = 1024

/**
 * Answers mailbox streams on `node` until stop().
 * @param {import('@libp2p/interface').Libp2p} node
 * @param {object} options
 * @param {ReturnType<typeof import('./store.js').openMailboxStore>} options.store
 * @param {{maxDepositBytes: number, depositsPerSecond: number, depositBurst: number}} options.limits
 * @param {() => number} options.now ms since epoch
 * @param {{warn?: Function, debug?: Function}} [options.logger]
 * @returns {Promise<{present: () => string[], keepsMailFor: (peer: string) => boolean, pushMail: (peer: string) => void,
 *   pushNotices: (peer: string) => void, stop: () => Promise<void>}>}
 */
export async function serveMailbox (node, { store, limits, now, logger = {} }) {
  /** peer ID → its open sessions */
  const sessions = new Map()
  const rate = createRateLimiter({ perSecond: limits.depositsPerSecond, burst: limits.depositBurst })
  const hub = {
    store,
    now,
    logger,
    forEach (peer, fn) {
      for (const session of sessions.get(peer) ?? []) fn(session)
    },
    join (session) {
      if (!sessions.has(session.peer)) sessions.set(session.peer, new Set())
      sessions.get(session.peer).add(session)
      seen(session.peer)
    },
    leave (session) {
      const own = sessions.get(session.peer)
      own?.delete(session)
      if (own?.size === 0) sessions.delete(session.peer)
      seen(session.peer)
    },
    deposit: (peer, head, payload) => deposit(peer, head, payload)
  }
  let stopping = false
  const seen = (peer) => {
    if (stopping) return // the store closes next; the last sweep marked every present peer seen
    store.write(() => store.sawPeer(peer, now())).catch(err => logger.warn?.(`relay: mailbox: cannot record ${peer}: ${err.message}`))
  }

  async function deposit (peer, head, payload) {
    if (head.from !== peer) {
      throw new MailboxOriginError(`the deposit claims to come from ${String(head.from).slice(0, 100)}, but this connection is ${peer}`)
    }
    if (!isPeerId(head.to)) throw new MailboxBadRequestError('the recipient is not a peer ID')
    if (typeof head.ref !== 'string' || !MAILBOX_REF_PATTERN.test(head.ref)) {
      throw new MailboxBadRequestError('ref must be 1–100 characters of [A-Za-z0-9._~-]')
    }
    if (payload.byteLength > limits.maxDepositBytes) {
      throw new MailboxTooLargeError(`${payload.byteLength} bytes; this relay takes at most ${limits.maxDepositBytes} per deposit`)
    }
    const at = now()
    if (!sessions.has(head.to) && !store.knowsPeer(head.to, at)) {
      throw new MailboxUnknownRecipientError(`${head.to} does not use this relay's mailbox`)
    }
    const retryAfterMs = rate.take(peer, at)
    if (retryAfterMs > 0) {
      throw new MailboxRateLimitedError(`too many deposits; retry in ${retryAfterMs} ms`, { retryAfterMs })
    }
    const mail = { sender: peer, recipient: head.to, ref: head.ref, sealed: payload }
    const stored = await store.write(() => store.deposit(mail, at))
    if (!stored.duplicate) hub.forEach(head.to, s => s.pushMail())
    return stored
  }

  await node.handle(MAILBOX_PROTOCOL, (stream, connection) => {
    new Session(connection.remotePeer.toString(), stream, hub).run().catch(err => {
      logger.warn?.(`relay: mailbox session of ${connection.remotePeer} failed: ${err.message}`)
    })
  }, { maxInboundStreams: 4 })

  return {
    present: () => [...sessions.keys()],
    /** whether mail for peer is taken here: it holds a mailbox stream now, or held one within the TTL */
    keepsMailFor: (peer) => sessions.has(peer) || store.knowsPeer(peer, now()),
    pushMail: (peer) => hub.forEach(peer, s => s.pushMail()),
    pushNotices: (peer) => hub.forEach(peer, s => s.pushNotices()),
    /** forgets idle rate buckets (the sweep calls it) */
    pruneRates: () => rate.prune(now()),
    async stop () {
      stopping = true
      await node.unhandle(MAILBOX_PROTOCOL)
      for (const own of sessions.values()) for (const session of own) session.close(new Error('the relay is stopping'))
      sessions.clear()
    }
  }
}

/** One peer's stream: reads its frames, pushes its mail and notices. */
class Session {
  constructor (peer, stream, hub) {
    this.peer = peer
    this.stream = stream
    this.hub = hub
    this.lp = mailboxStream(stream)
    /** mids pushed on this stream and not acked yet; cursor: the highest pushed */
    this.mail = { unacked: new Set(), cursor: 0 }
    this.notices = { unacked: new Set(), cursor: 0 }
    this.send = frameSender(this.lp, err => this.close(err))
    this.closed = false
  }

  async run () {
    this.hub.join(this)
    try {
      this.pushMail()
      this.pushNotices()
      for (;;) {
        let bytes
        try {
          bytes = await this.lp.read()
        } catch (err) {
          if (this.closed || this.stream.readStatus !== 'readable' || err.name === 'UnexpectedEOFError') return
          throw err
        }
        this.handle(bytes.subarray())
      }
    } catch (err) {
      this.hub.logger.warn?.(`relay: mailbox stream of ${this.peer} closed: ${err.message}`)
      this.close(err)
    } finally {
      this.close()
      this.hub.leave(this)
    }
  }

  /** @param {Uint8Array} frame @throws {P2PProtocolError} the stream is beyond repair */
  handle (frame) {
    const { head, payload } = decodeFrame(frame)
    switch (head.op) {
      case 'deposit':
        if (!(typeof head.id === 'number' || typeof head.id === 'string') || String(head.id).length > 64) {
          throw new P2PProtocolError('a deposit without a usable id')
        }
        this.answerDeposit(head, payload)
        break
      case 'ack': {
        const mids = ids(head.mail)
        for (const mid of mids) this.mail.unacked.delete(mid)
        const { store, now } = this.hub
        store.write(() => store.ack(this.peer, mids, now())).then(told => {
          for (const sender of told) this.hub.forEach(sender, s => s.pushNotices())
        }, err => this.hub.logger.warn?.(`relay: mailbox ack of ${this.peer} failed: ${err.message}`))
        this.pushMail()
        break
      }
      case 'ack-notices': {
        const nids = ids(head.notices)
        for (const nid of nids) this.notices.unacked.delete(nid)
        const { store } = this.hub
        store.write(() => store.ackNotices(this.peer, nids))
          .catch(err => this.hub.logger.warn?.(`relay: mailbox notice ack of ${this.peer} failed: ${err.message}`))
        this.pushNotices()
        break
      }
      default:
        // unknown ops are ignored: newer peers may say more
    }
  }

  async answerDeposit (head, payload) {
    try {
      const { expiresAt } = await this.hub.deposit(this.peer, head, payload)
      this.send({ id: head.id, ok: true, expiresAt })
    } catch (err) {
      const wire = mailboxErrorToWire(err)
      if (wire.name !== err.name) this.hub.logger.warn?.(`relay: mailbox deposit from ${this.peer} failed: ${err.message}`)
      this.send({ id: head.id, error: wire })
    }
  }

  pushMail () {
    const { store, now } = this.hub
    const room = MAILBOX_PUSH_WINDOW - this.mail.unacked.size
    if (this.closed || room <= 0) return
    for (const row of store.mailFor(this.peer, this.mail.cursor, room, now())) {
      this.mail.unacked.add(row.mid)
      this.mail.cursor = row.mid
      this.send({ mail: { mid: row.mid, from: row.sender, ref: row.ref, depositedAt: row.deposited_at } }, row.sealed)
    }
  }

  pushNotices () {
    const room = MAILBOX_PUSH_WINDOW - this.notices.unacked.size
    if (this.closed || room <= 0) return
    for (const row of this.hub.store.noticesFor(this.peer, this.notices.cursor, room)) {
      this.notices.unacked.add(row.nid)
      this.notices.cursor = row.nid
      this.send({ notice: { nid: row.nid, kind: row.kind, to: row.recipient, ref: row.ref, at: row.at } })
    }
  }

  close (err) {
    if (this.closed) return
    this.closed = true
    if (err != null || this.stream.status !== 'open') this.stream.abort(err ?? new Error('mailbox stream ended'))
    else this.stream.close().catch(() => this.stream.abort(new Error('mailbox stream close failed')))
  }
}

/** @returns {number[]} the ids of an ack @throws {P2PProtocolError} not a short list of positive integers */
function ids (list) {
  if (!Array.isArray(list) || list.length > MAX_ACK_IDS || !list.every(id => Number.isSafeInteger(id) && id > 0)) {
    throw new P2PProtocolError(`an ack must list at most ${MAX_ACK_IDS} positive integer ids`)
  }
  return list
}

function isPeerId (value) {
  if (typeof value !== 'string' || value.length > 128) return false
  try {
    peerIdFromString(value)
    return true
  } catch {
    return false
  }
}
