/**
 * The browser peer: the libp2p node of this service worker, next to the Go
 * server it carries federation for.
 *
 * Why the service worker and not the page:
 * - the signing key is the libp2p identity (peer ID = server name) and it
 *   never leaves the worker; a page-hosted node would need it in every tab;
 * - one worker per origin means one node per server, whatever the number of
 *   tabs (a node per tab would put the same peer ID on the relay N times);
 * - incoming federation streams call Go's serve in the same realm, with no
 *   message hop through a page, and outgoing ones come from Go directly
 *   through the hearthP2P global;
 * - libp2p 3 over WebSockets and circuit relay v2 runs in service workers in
 *   Chromium and Firefox (measured, see issue 4).
 * Service workers have no RTCPeerConnection: for direct WebRTC links between
 * browsers, one open page hosts the connections and this node signals for
 * them over the relay (js/p2p/direct/). Federation goes over a direct link
 * when one is open, through the relay otherwise.
 *
 * Lifetime: browsers stop an idle worker (~30 s) and with it this node; the
 * relay then tells the other peers we left. The next event (a /sync
 * long-poll, the page's keep-alive message, any /_matrix fetch) starts a new
 * worker, which boots Go and then this node again: a new reservation and a
 * new presence subscription announce us afresh. While a tab is open the page
 * keeps the worker alive (js/page/worker.js).
 */
import { enable as enableLibp2pLogs } from '@libp2p/logger'
import { GLOBALS, callServe, provide } from '../js/bridge/globals.js'
import { createP2P, SIGNAL_PROTOCOL } from '../js/p2p/index.js'
import { hearthP2P, mailToGo } from '../js/p2p/bridge.js'
import { createDirectLinks } from '../js/p2p/direct/links.js'
import { indexedDBRelayBook } from '../js/p2p/relay-book.js'

/** config.json could not be used for the network (missing, unreadable, bad relay address). */
export class NetworkConfigError extends Error {
  constructor (message, options) {
    super(message, options)
    this.name = 'NetworkConfigError'
  }
}

/**
 * @typedef {object} NetworkStatus what pages are told (sw/protocol.js, status.p2p)
 * @property {'starting'|'off'|'connecting'|'online'|'failed'|'duplicate'} state off: config.json
 *   names no relay; connecting: no relay reservation yet (or lost, retrying);
 *   online: reserved on at least one relay (any circuit relay v2 node);
 *   duplicate: a relay said another copy of this server is online there, so
 *   this one left the network for the rest of this worker life (error says why)
 * @property {string} [peerId] ours (equals the server name)
 * @property {Array<{addr: string, peerId: string, online: boolean, learned: boolean, offers: string[], presence: boolean, mailbox: boolean}>} [relays]
 *   offers: the Hearth extras the relay has ('presence', 'mailbox'; none on a stock libp2p
 *   relay); presence: we learn who is online there; mailbox: the relay keeps mail for us
 *   while we are away (and takes ours for others)
 * @property {string[]} [peers] other servers online on our relays
 * @property {string[]} [direct] peers we have a direct WebRTC link with
 * @property {string} [error] with 'failed'
 */

/**
 * @param {object} options
 * @param {string} options.configURL the site's config.json, read at start
 * @param {Promise<{relays: string[], debug: string|null}>} [options.config] config.json
 *   already being read (readNetworkConfig): start uses it instead
 * @param {Uint8Array} options.signingKey Go's 64-byte ed25519 key: the libp2p identity
 * @param {string} options.serverName Go's server name, which must equal the peer ID
 * @param {(status: NetworkStatus) => void} options.onStatus every change
 * @param {string} [options.debug] libp2p log namespaces the page asked for
 * @param {{info?: Function, warn?: Function}} [options.logger]
 * @param {{fetch?: typeof fetch}} [components]
 */
export function createNetwork (options, components = {}) {
  const fetchConfig = components.fetch ?? ((...args) => fetch(...args))
  const logger = options.logger ?? console
  let status = { state: 'starting' }
  let p2p = null
  let links = null
  /** a page's port offered before the node ran (see setDirectHost) */
  let pendingHost = null
  /** the DuplicateServerError that took us off the network, or null */
  let refused = null

  const report = (next) => {
    status = next
    try { options.onStatus(status) } catch (err) { logger.warn?.(`p2p: status listener threw: ${err.message}`) }
  }
  const live = () => {
    if (p2p === null || refused !== null) return // still starting, stopped, or refused
    const relays = p2p.relays()
    report({
      state: relays.some(r => r.online) ? 'online' : 'connecting',
      peerId: p2p.peerId,
      relays: relays.map(r => ({ addr: r.addr, peerId: r.peerId, online: r.online, learned: r.learned, offers: r.offers, presence: r.presence, mailbox: r.mailbox })),
      peers: p2p.peers(),
      direct: links?.connected() ?? []
    })
  }

  return {
    /** Reads config.json and joins its relays. Never rejects: failures end in status 'failed'. */
    async start () {
      if (p2p !== null) return
      report({ state: 'starting' })
      try {
        const config = await (options.config ?? readNetworkConfig(options.configURL, fetchConfig))
        if (config.debug) enableLibp2pLogs(config.debug)
        if (options.debug) enableLibp2pLogs(options.debug)
        if (config.relays.length === 0) {
          report({ state: 'off' })
          return
        }
        const node = createP2P({
          privateKey: options.signingKey,
          relayAddrs: config.relays,
          relayBook: indexedDBRelayBook(),
          serve: callServe,
          ...mailToGo,
          logger,
          onDuplicate: (err) => {
            refused = err
            report({ state: 'duplicate', peerId: node.peerId, error: err.message })
            this.stop().catch(() => {})
          }
        })
        if (node.peerId !== options.serverName) {
          throw new Error(`the libp2p peer ID ${node.peerId} is not the server name ${options.serverName}`)
        }
        node.onPeers(live)
        node.onRelays(live)
        await node.start()
        links = createDirectLinks({ selfId: node.peerId, p2p: node, serve: callServe, onChange: live, logger })
        await node.libp2p.handle(SIGNAL_PROTOCOL, (stream, connection) => links.answerSignal(stream, connection))
        if (pendingHost !== null) links.setHost(pendingHost)
        pendingHost = null
        p2p = node
        // Go's list of reachable peers: those it watches on a relay with us, or linked directly.
        const reachable = () => [...new Set([...node.peers(), ...links.connected()])]
        provide(GLOBALS.p2p, hearthP2P({ roundTrip: links.roundTrip, deposit: node.deposit, peers: reachable, watch: node.watch }))
        live()
      } catch (err) {
        logger.warn?.(`p2p: cannot join the network: ${err.message}`)
        report({ state: 'failed', error: err.message })
      }
    },

    async stop () {
      const node = p2p
      p2p = null
      links?.stop()
      links = null
      await node?.stop()
    },

    /**
     * A page offers to host WebRTC connections for this node (js/page/direct.js);
     * the newest offer wins.
     * @param {MessagePort} port
     */
    setDirectHost (port) {
      if (links !== null) links.setHost(port)
      else {
        pendingHost?.close()
        pendingHost = port
      }
    },

    /** Switches libp2p logging on for this worker life (the page's localStorage.debug). */
    setDebug (namespaces) {
      if (typeof namespaces === 'string' && namespaces !== '') enableLibp2pLogs(namespaces)
    },

    status: () => status
  }
}

/**
 * config.json's network fields, checked: relay (string, list or null) becomes
 * relays (a list of multiaddrs each naming the relay's peer ID). Rejects with
 * a NetworkConfigError.
 */
export async function readNetworkConfig (url, fetchConfig = (...args) => fetch(...args)) {
  let config
  try {
    // no-store: a deployer's edit must win at the next worker start, not after a cache expiry
    const res = await fetchConfig(url, { cache: 'no-store' })
    if (!res.ok) throw new Error(`HTTP ${res.status}`)
    config = await res.json()
  } catch (err) {
    throw new NetworkConfigError(`cannot read config.json: ${err.message}`, { cause: err })
  }
  const relay = config?.relay ?? null
  const relays = relay === null ? [] : Array.isArray(relay) ? relay : [relay]
  for (const addr of relays) {
    if (typeof addr !== 'string' || !addr.startsWith('/') || !/\/p2p\/\w+$/.test(addr)) {
      throw new NetworkConfigError(`config.json: relay ${JSON.stringify(addr)} is not a multiaddr ending in /p2p/<relay peer ID>`)
    }
  }
  return { relays, debug: typeof config?.debug === 'string' ? config.debug : null }
}
