/**
 * The relay: the one server Hearth needs. Browsers cannot listen for
 * connections, so each peer keeps a WebSocket to the relay, reserves a slot
 * (circuit relay v2) and is dialed by others through `/p2p-circuit`. The
 * relay also tells peers who else is there (presence.js) and, given a
 * directory, keeps mail for peers that are away (mailbox/). It never sees
 * federation content: relayed connections are end-to-end encrypted (noise),
 * and mail is sealed to its recipient.
 *
 * go/relay is the same relay in Go (go-libp2p's relay with these extras,
 * on the same wire): it relays at a fraction of this one's CPU and memory
 * (js/p2p/README.md, "Cost of relaying"), so deployments run that one.
 *
 * Limits, chosen deliberately:
 * - per relayed connection: none on data or duration. libp2p's default
 *   (128 KiB, 2 min) cuts federation mid-request; Hearth peers keep one
 *   relayed connection per pair open for as long as both are online.
 * - counts: reservations (one per online peer), connections, concurrent hop
 *   streams. These bound the relay's memory; raise them for a bigger network.
 * - per IP and per peer (limits.js): so one host cannot take every slot; a
 *   reservation is freed as soon as its peer's last connection closes.
 * - per peer, a byte rate on what it sends through relayed connections
 *   (throttle.js): a flooding peer is paced, the others are not slowed.
 */
import { noise } from '../p2p/noise.js'
import { yamux } from '../p2p/yamux.js'
import { webSockets } from '@libp2p/websockets'
import { circuitRelayServer } from '@libp2p/circuit-relay-v2'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { generateKeyPair, privateKeyFromRaw } from '@libp2p/crypto/keys'
import { peerIdFromString } from '@libp2p/peer-id'
import { createLibp2p } from 'libp2p'
import { servePresence } from '../p2p/presence.js'
import { relayLimits } from './limits.js'
import { watchReservations } from './reservations.js'
import { throttleRelay, RELAY_STREAM_WINDOW } from './throttle.js'
import { createMailbox } from './mailbox/index.js'
import { linkRelays } from './links.js'

export const DEFAULT_RELAY_LIMITS = Object.freeze({
  /** online peers the relay will hold a slot for (freed when the peer disconnects) */
  maxReservations: 256,
  /**
   * slots one IP (IPv6: one /64) may hold, so one host cannot take them all;
   * browsers behind one NAT share an address and so share these
   */
  maxReservationsPerIp: 32,
  /** connections of any kind (peers' own, plus relayed ones the relay opens) */
  maxConnections: 1024,
  /** open connections from one IP (IPv6: one /64); a peer needs one, two while reconnecting */
  maxConnectionsPerIp: 64,
  /** open connections from one peer ID */
  maxConnectionsPerPeer: 4,
  /**
   * new connections per second from one IP address. libp2p's default (5)
   * made 50 peers starting together take 90 s to all get a slot, retrying on
   * refusals; browsers behind one NAT share an address the same way.
   */
  maxConnectionsPerSecondPerHost: 100,
  /** connections still in their handshake (noise, yamux) at once; libp2p's default is 10 */
  maxPendingConnections: 128,
  /** concurrent relayed-connection setups */
  maxHopStreams: 256,
  /** ms a reservation lasts before the peer must refresh it (libp2p refreshes) */
  reservationTtl: 2 * 60 * 60 * 1000,
  /** bytes per relayed connection; null = unlimited (see the file comment) */
  dataLimit: null,
  /** ms per relayed connection; null = unlimited */
  durationLimit: null,
  /**
   * bytes per second one peer may send through its relayed connections, all
   * together (throttle.js); past its burst its streams are paced, not cut.
   * 4 MiB/s with a 16 MiB burst: the burst holds the largest federation body
   * (16 MiB), so one media upload or catch-up burst after a quiet spell is not
   * paced, and a 1 MiB one takes 0.25 s even once the burst is spent; a peer
   * flooding 64 × 64 KiB requests pushed 6–15 MiB/s through the relay and
   * slowed everyone ×2.8–3.5 (bench relay.flood), ×1.0–1.8 at this rate
   */
  maxRelayedBytesPerSecondPerPeer: 4 * 1024 * 1024,
  /** bytes a peer may send at once at full speed before the rate applies (catch-up after being away) */
  maxRelayedBurstBytesPerPeer: 16 * 1024 * 1024
})

/**
 * @param {{port?: number, host?: string, limits?: Partial<typeof DEFAULT_RELAY_LIMITS>,
 *          privateKey?: Uint8Array, logger?: {info?: Function, warn?: Function},
 *          mailbox?: Parameters<typeof createMailbox>[0], peers?: string[]}} [options]
 *   port 0 picks a free port; privateKey (64-byte raw ed25519) keeps the relay's
 *   peer ID, and so its address, stable across restarts; mailbox ({dir, ttl, …},
 *   DEFAULT_MAILBOX_OPTIONS in mailbox/index.js) keeps mail in dir; absent: no mailbox;
 *   peers: multiaddrs of other relays to link with (links.js), so peers find each
 *   other across relays
 */
export function createRelay (options = {}) {
  const host = options.host ?? '127.0.0.1'
  const port = options.port ?? 8081
  const limits = Object.freeze({ ...DEFAULT_RELAY_LIMITS, ...options.limits })
  const logger = options.logger ?? {}
  const guard = relayLimits(limits)
  let node = null
  let presence = null
  let unwatchReservations = () => {}
  let throttle = null
  let links = null
  const mailbox = options.mailbox == null ? null : createMailbox(options.mailbox, { logger })

  return {
    async start () {
      if (node != null) return
      const privateKey = options.privateKey != null
        ? privateKeyFromRaw(options.privateKey)
        : await generateKeyPair('Ed25519')
      const unlimited = limits.dataLimit == null && limits.durationLimit == null
      node = await createLibp2p({
        privateKey,
        addresses: { listen: [`/ip4/${host}/tcp/${port}/ws`] },
        transports: [webSockets()],
        connectionEncrypters: [noise()],
        // receive window capped so a paused (throttled) stream's buffer stays under libp2p's 4 MiB limit
        streamMuxers: [yamux({ streamOptions: { maxStreamWindowSize: RELAY_STREAM_WINDOW } })],
        connectionGater: guard.connectionGater,
        connectionManager: {
          maxConnections: limits.maxConnections,
          inboundConnectionThreshold: limits.maxConnectionsPerSecondPerHost,
          maxIncomingPendingConnections: limits.maxPendingConnections
        },
        services: {
          identify: identify(),
          ping: ping(),
          relay: circuitRelayServer({
            maxInboundHopStreams: limits.maxHopStreams,
            maxOutboundStopStreams: limits.maxHopStreams,
            reservations: {
              maxReservations: limits.maxReservations,
              reservationTtl: limits.reservationTtl,
              applyDefaultLimit: !unlimited,
              ...(limits.dataLimit != null && { defaultDataLimit: BigInt(limits.dataLimit) }),
              ...(limits.durationLimit != null && { defaultDurationLimit: limits.durationLimit })
            }
          })
        }
      })
      guard.start(node, node.services.relay)
      throttle = throttleRelay(node.services.relay, { rate: limits.maxRelayedBytesPerSecondPerPeer, burst: limits.maxRelayedBurstBytesPerPeer })
      const reservations = node.services.relay.reservations
      presence = await servePresence(node, {
        reserved: peer => reservations.has(peerIdFromString(peer)),
        onJoin: peer => logger.info?.(`relay: peer joined ${peer} (${presence?.present().length ?? 1} online)`),
        onLeave: peer => logger.info?.(`relay: peer left ${peer} (${presence.present().length} online)`)
      })
      unwatchReservations = watchReservations(node.services.relay, peer => presence.reservationChanged(peer))
      await mailbox?.start(node)
      links = await linkRelays(node, {
        peers: options.peers ?? [],
        reserved: peer => reservations.has(peerIdFromString(peer)),
        keepsMailFor: peer => mailbox?.keepsMailFor(peer) ?? false,
        logger
      })
      node.addEventListener('peer:connect', evt => logger.debug?.(`relay: connection from ${evt.detail}`))
    },

    async stop () {
      if (node == null) return
      const stopping = node
      node = null
      guard.stop()
      throttle?.stop()
      throttle = null
      unwatchReservations()
      links?.stop()
      links = null
      await presence.stop().catch(() => {})
      await mailbox?.stop().catch(err => logger.warn?.(`relay: mailbox did not stop cleanly: ${err.message}`))
      await stopping.stop()
    },

    /** the limits in force: DEFAULT_RELAY_LIMITS with options.limits over them */
    get limits () { return limits },

    /** @returns {string} the relay's peer ID */
    get peerId () { return node?.peerId.toString() },

    /** the TCP port it listens on (the real one when started with port 0) */
    get port () {
      const tcp = node?.getMultiaddrs()[0]?.getComponents().find(c => c.name === 'tcp')
      return tcp == null ? undefined : Number(tcp.value)
    },

    /** @returns {string[]} addresses peers dial, each ending in /p2p/<relay peer ID> */
    multiaddrs () {
      return node?.getMultiaddrs().map(String) ?? []
    },

    /** @returns {string[]} peer IDs currently present */
    present () {
      return presence?.present() ?? []
    },

    /** @returns {string[]} addresses of the relays linked with this one and up now */
    linkedRelays () {
      return links?.linked() ?? []
    },

    /** peer lookups ("find") answered so far */
    lookups () {
      return links?.lookups() ?? 0
    },

    /** presence messages sent so far (for the benchmark) */
    messagesSent () {
      return presence?.messagesSent() ?? 0
    },

    /** @returns {{mails: number, bytes: number, notices: number, present: number} | null} the mailbox's contents, null without one */
    mailboxStats () {
      return mailbox?.stats() ?? null
    },

    get libp2p () { return node }
  }
}
