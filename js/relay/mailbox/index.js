/**
 * The relay's mailbox: mail held for peers while they are away (issue 10;
 * contract: /hearth/mailbox/1.0.0, see js/p2p/mailbox-frames.js). A sender
 * deposits a transaction sealed to the recipient; the relay keeps it on disk
 * (store.js) and pushes it when the recipient holds its mailbox stream
 * (server.js); the recipient's ack deletes it and tells the sender.
 *
 * What the relay learns: sender, recipient, sizes and times. The payload is
 * sealed by the sender's Go to the recipient's key and never parsed here.
 */
import { MAX_MAILBOX_DEPOSIT_BYTES } from '../../p2p/constants.js'
import { openMailboxStore } from './store.js'
import { serveMailbox } from './server.js'

const DAY = 24 * 60 * 60 * 1000

export const DEFAULT_MAILBOX_OPTIONS = Object.freeze({
  /** ms mail waits unread before it is dropped (and its sender told) */
  ttl: 14 * DAY,
  maxMailsPerRecipient: 1000,
  /** sealed bytes held for one recipient */
  maxBytesPerRecipient: 64 * 1024 * 1024,
  /** sealed bytes of one deposit; at most 4 MiB (the frame limit) */
  maxDepositBytes: 2 * 1024 * 1024,
  /** a sender's sustained deposit rate, and the burst it may save up */
  depositsPerSecond: 20,
  depositBurst: 100,
  /** sealed bytes of all mail together */
  maxStoreBytes: 1024 * 1024 * 1024,
  /** notices waiting for one absent sender; the oldest go first */
  maxNoticesPerSender: 10_000,
  /** ms between sweeps for expired mail and notices (one also runs at start) */
  sweepInterval: 60_000
})

/**
 * @param {{dir: string} & Partial<typeof DEFAULT_MAILBOX_OPTIONS>} options dir: where the
 *   database lives (created if missing; one relay per directory)
 * @param {{logger?: {info?: Function, warn?: Function}, now?: () => number}} [components]
 */
export function createMailbox (options, components = {}) {
  if (typeof options?.dir !== 'string' || options.dir === '') throw new TypeError('mailbox.dir must name a directory')
  const limits = { ...DEFAULT_MAILBOX_OPTIONS, ...options }
  if (!(limits.maxDepositBytes > 0 && limits.maxDepositBytes <= MAX_MAILBOX_DEPOSIT_BYTES)) {
    throw new TypeError(`mailbox.maxDepositBytes must be between 1 and ${MAX_MAILBOX_DEPOSIT_BYTES}`)
  }
  if (!(limits.ttl > 0)) throw new TypeError('mailbox.ttl must be a positive number of ms')
  const logger = components.logger ?? {}
  const now = components.now ?? Date.now
  let store = null
  let server = null
  let timer = null

  const sweep = async () => {
    const { expired, told } = await store.write(() => store.sweep(now(), server?.present() ?? []))
    server?.pruneRates()
    for (const sender of told) server?.pushNotices(sender)
    if (expired > 0) logger.info?.(`relay: mailbox: ${expired} mails expired unread`)
  }

  return {
    /** Opens the store, sweeps it once, and answers the protocol on `node`. */
    async start (node) {
      if (store != null) return
      store = openMailboxStore(limits.dir, limits)
      try {
        await sweep()
        server = await serveMailbox(node, { store, limits, now, logger })
      } catch (err) {
        store.close()
        store = null
        throw err
      }
      timer = setInterval(() => {
        sweep().catch(err => logger.warn?.(`relay: mailbox sweep failed: ${err.message}`))
      }, limits.sweepInterval)
      timer.unref?.()
    },

    async stop () {
      if (store == null) return
      clearInterval(timer)
      await server?.stop()
      server = null
      store.close()
      store = null
    },

    /** whether mail for peer is taken here (a peer that used this mailbox within the TTL) */
    keepsMailFor (peer) {
      return server?.keepsMailFor(peer) ?? false
    },

    /** runs a sweep now (tests; the timer runs them otherwise) */
    sweep,

    /** @returns {{mails: number, bytes: number, notices: number, present: number} | null} */
    stats () {
      return store == null ? null : { ...store.stats(), present: server?.present().length ?? 0 }
    }
  }
}
