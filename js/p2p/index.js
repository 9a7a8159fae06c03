/**
 * The p2p layer: a libp2p node that carries Matrix federation between Hearth
 * peers through a circuit relay, and learns who is online from that relay.
 *
 * Go never sees libp2p: it calls `roundTrip` and `deposit` (through the
 * hearthP2P global, see bridge.js) and answers incoming requests through
 * `serve`, incoming mail through `onMail`. This module owns the node's
 * lifecycle, the federation protocol (framing.js), discovery (presence.js),
 * our mailboxes on the relays (mailbox.js) and the mapping of every failure
 * to a named error (errors.js).
 *
 * Works unchanged in a page, a service worker and Node (Node entry points must
 * import ./node-env.js first).
 */
import { noise } from './noise.js'
import { yamux } from './yamux.js'
import { webSockets } from '@libp2p/websockets'
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { generateKeyPairFromSeed, privateKeyFromRaw } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { enable as enableLibp2pLogs } from '@libp2p/logger'
import { createLibp2p } from 'libp2p'
import { DEFAULTS, FEDERATION_PROTOCOL, FEDERATION_STREAM_PROTOCOL, MAX_WATCHED } from './constants.js'
import { DuplicateServerError, MailboxUnavailableError, P2PNotRunningError, PeerUnreachableError, RelayReservationError } from './errors.js'
import { answer } from './exchange.js'
import { answerEach, createRequestStreams } from './request-streams.js'
import { openMailbox } from './mailbox.js'
import { createInFlightBudget } from './inflight.js'
import { subscribePresence } from './presence.js'
import { relayOffers, reservationLost } from './relay-watch.js'
import { askRouting, relayAddrsFrom, relayIdOf } from './routing.js'
import { abortable, sleep } from './waiting.js'

export * from './errors.js'
export { FEDERATION_PROTOCOL, FEDERATION_STREAM_PROTOCOL, MAILBOX_PROTOCOL, PRESENCE_PROTOCOL, ROUTING_PROTOCOL, SIGNAL_PROTOCOL } from './constants.js'

/**
 * @typedef {object} P2POptions
 * @property {Uint8Array} privateKey 64 bytes, Go's ed25519.PrivateKey layout (seed || public key):
 *   the same key is the Matrix signing key, so the peer ID is the server name.
 * @property {string[]} relayAddrs relay multiaddrs including `/p2p/<relay peer ID>`,
 *   e.g. `/ip4/127.0.0.1/tcp/8081/ws/p2p/12D3KooW…`
 * @property {(head: {method: string, url: string, headers: Array<[string, string]>, peer: string},
 *   body: Uint8Array) => Promise<{status: number, headers: Array<[string, string]>, body: Uint8Array}>} serve
 *   answers an incoming federation request (callServe in js/bridge/globals.js)
 * @property {(mail: {from: string, bytes: Uint8Array, relay: string}) => Promise<void>} [onMail]
 *   takes one mail from our mailbox on a relay (deliverMail in js/bridge/globals.js):
 *   resolve = done with it, the relay deletes it; reject = the relay offers it again
 *   the next time our mailbox stream opens. Without it mail stays on the relays.
 * @property {(notice: {kind: 'delivered'|'expired', to: string, ref: string, relay: string}) => Promise<void>} [onNotice]
 *   what became of mail we deposited (deliverNotice): resolve = recorded, the relay forgets it
 * @property {(err: DuplicateServerError) => void} [onDuplicate] a relay says another live copy of
 *   this server is online there: this node did not go online on it and stops trying (the
 *   caller should stop it and tell the person; see DuplicateServerError)
 * @property {{info?: Function, warn?: Function}} [logger] for joins, leaves and relay trouble;
 *   libp2p's own logs are switched on with `debug` (see README)
 * @property {string} [debug] libp2p log namespaces to switch on, e.g. 'libp2p:*': for a
 *   service worker, which has no localStorage for the usual `localStorage.debug`
 * @property {number} [requestTimeout] ms, whole outgoing request
 * @property {number} [dialTimeout] ms, reaching a peer through the relay
 * @property {number} [serveTimeout] ms Go may take to answer an incoming request
 * @property {number} [maxRelays] relays to hold reservations on (default DEFAULTS.maxRelays, 2):
 *   every relay in relayAddrs is used; while fewer than this many are online, relays
 *   learned from them (routing.js) are added, one at a time
 * @property {{load: () => Promise<string[]>, save: (addrs: string[]) => Promise<void>}} [relayBook]
 *   where relays learned from our relays are kept across restarts (relay-book.js): loaded at
 *   start as candidates, so a peer whose given relays are down still finds one it learned
 * @property {number} [maxInFlightBytesPerPeer] bytes of incoming requests one remote peer may
 *   have in flight (default MAX_IN_FLIGHT_BYTES_PER_PEER); more are refused before their body is read
 */

/**
 * @param {P2POptions} options
 * @param {{createLibp2p?: typeof createLibp2p}} [components] seams for tests
 */
export function createP2P (options, components = {}) {
  return new HearthP2P(options, components).facade()
}

class HearthP2P {
  constructor (options, components) {
    if (!(options.privateKey instanceof Uint8Array) || options.privateKey.byteLength !== 64) {
      throw new TypeError('privateKey must be a 64-byte ed25519 private key (seed || public key)')
    }
    if (!Array.isArray(options.relayAddrs) || options.relayAddrs.length === 0) {
      throw new TypeError('relayAddrs must list at least one relay multiaddr')
    }
    if (typeof options.serve !== 'function') throw new TypeError('serve must be a function')
    this.privateKey = privateKeyFromRaw(options.privateKey)
    this.peerId = peerIdFromPrivateKey(this.privateKey)
    this.relays = options.relayAddrs.map(addr => {
      const ma = multiaddr(addr)
      const relayId = ma.getComponents().findLast(c => c.name === 'p2p')?.value
      if (relayId == null) throw new TypeError(`relay address ${addr} lacks /p2p/<relay peer ID>`)
      return newRelayEntry(ma, relayId, false)
    })
    this.maxRelays = options.maxRelays ?? DEFAULTS.maxRelays
    /** relays learned from our relays' routing answers: peer ID → {addr, failedAt} */
    this.learnedRelays = new Map()
    this.relayBook = options.relayBook ?? null
    /**
     * the peers our presence subscriptions ask about: those the owner watches
     * (watch(): Go's rooms' servers), and those anyone waited for (waitForPeer)
     */
    this.watched = []
    this.ownerWatches = []
    this.waitedFor = new Set()
    /** presence subscriptions, told when the watched list changes */
    this.watchListeners = new Set()
    /** when we last asked a relay for the relays it is linked with (ms) */
    this.askedForRelaysAt = 0
    /** mailbox sessions on relays we hold no reservation on, to leave mail there: relay ID → {opening, timer, close} */
    this.visitedMailboxes = new Map()
    this.serve = options.serve
    this.onMail = options.onMail
    this.onNotice = options.onNotice
    this.onDuplicate = options.onDuplicate
    /** bytes of incoming requests in flight per remote peer, bounded (exchange.js answer) */
    this.budget = createInFlightBudget({ maxBytesPerPeer: options.maxInFlightBytesPerPeer })
    this.debug = options.debug
    this.logger = options.logger ?? {}
    this.timeouts = {
      request: options.requestTimeout ?? DEFAULTS.requestTimeout,
      dial: options.dialTimeout ?? DEFAULTS.dialTimeout,
      read: DEFAULTS.readTimeout,
      serve: options.serveTimeout ?? DEFAULTS.serveTimeout
    }
    this.createLibp2p = components.createLibp2p ?? createLibp2p
    /** the running node; null before start() and after stop() */
    this.node = null
    /** aborted by stop(): ends the presence loops */
    this.lifetime = null
    this.listeners = new Set()
    /** relay listeners: called with relays() whenever one goes on or off line */
    this.relayListeners = new Set()
    /** set while fillRelays runs from relaysChanged (which it calls itself) */
    this.filling = false
    this.loops = []
    this.seed = options.privateKey.subarray(0, 32)
    this.publicKeyBytes = options.privateKey.subarray(32)
  }

  facade () {
    const self = this
    return {
      peerId: this.peerId.toString(),
      start: () => this.start(),
      stop: () => this.stop(),
      roundTrip: (peerId, request, opts) => this.roundTrip(peerId, request, opts),
      deposit: (peerId, ref, bytes, opts) => this.deposit(peerId, ref, bytes, opts),
      /** a stream to a peer through our relays under another protocol (direct/ uses it to signal) */
      dial: (peerId, protocol, opts) => this.dial(peerId, protocol, opts),
      peers: () => this.peers(),
      watch: (peerIds) => this.watch(peerIds),
      onPeers: (listener) => this.onPeers(listener),
      waitForPeer: (peerId, opts) => this.waitForPeer(peerId, opts),
      relays: () => this.relayStatus(),
      onRelays: (listener) => this.onRelays(listener),
      /** the libp2p node while running (for diagnostics and benchmarks), else null */
      get libp2p () { return self.node },
      /** our circuit addresses: how others reach us */
      multiaddrs: () => this.node?.getMultiaddrs().map(String) ?? []
    }
  }

  async start () {
    if (this.node != null) return
    await this.checkKeyPair()
    if (this.debug) enableLibp2pLogs(this.debug)
    const node = await this.createLibp2p({
      privateKey: this.privateKey,
      // No listen addresses here: the relay loops below listen on each relay's
      // /p2p-circuit address and redo it when a relay comes back.
      addresses: { listen: [] },
      transports: [webSockets(), circuitRelayTransport({
        reservationCompletionTimeout: this.timeouts.dial,
        // circuit-relay-v2 4.2 runs reservations through a queue and empties it
        // whenever no *discovered* relay is wanted, dropping a queued reservation
        // on a configured relay without settling it: with the default concurrency
        // of 1, every relay but the first waited forever. One slot per relay
        // means none is ever queued. (reserveRelay below bounds it all the same.)
        reservationConcurrency: this.relays.length
      })],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      // Browsers' default gater refuses ws:// and private addresses; the relay is
      // often exactly that (127.0.0.1 in development). We only ever dial relays
      // and circuit addresses through them.
      connectionGater: { denyDialMultiaddr: () => false },
      connectionManager: { dialTimeout: this.timeouts.dial },
      // A relay that is down must not make start() fail: we retry in the loops.
      transportManager: { faultTolerance: 1 /* FaultTolerance.NO_FATAL */ },
      services: { identify: identify(), ping: ping() }
    })
    await node.handle(FEDERATION_PROTOCOL, (stream, connection) => answer(stream, connection.remotePeer.toString(), this), {
      maxInboundStreams: 64,
      maxOutboundStreams: 64
    })
    await node.handle(FEDERATION_STREAM_PROTOCOL, (stream, connection) => answerEach(stream, connection.remotePeer.toString(), this), {
      maxInboundStreams: 64,
      maxOutboundStreams: 64
    })
    this.requestStreams = createRequestStreams({ dial: (peerId, protocols, opts) => this.dial(peerId, protocols, opts) })
    await this.loadRelayBook()
    await node.start()
    this.node = node
    this.lifetime = new AbortController()
    this.loops = this.relays.map(relay => this.relayLoop(relay, this.lifetime.signal))
  }

  async stop () {
    const node = this.node
    if (node == null) return
    this.lifetime.abort()
    this.node = null
    this.requestStreams?.closeAll()
    await node.stop()
    for (const visit of this.visitedMailboxes.values()) visit.close()
    this.visitedMailboxes.clear()
    await Promise.allSettled(this.loops)
    await this.relayBookSaved // nothing is written into the data directory after stop
    this.loops = []
    this.relays = this.relays.filter(r => !r.learned)
    for (const relay of this.relays) {
      for (const peer of relay.known) this.forget(relay, peer)
      this.setOnline(relay, false)
    }
  }

  /** Refuses a key whose public half does not belong to its seed: the peer ID would lie. */
  async checkKeyPair () {
    const derived = await generateKeyPairFromSeed('Ed25519', this.seed)
    const expected = derived.publicKey.raw
    if (expected.byteLength !== 32 || !expected.every((b, i) => b === this.publicKeyBytes[i])) {
      throw new TypeError('privateKey: the public key half does not match the seed')
    }
  }

  /**
   * Keeps us on one relay: reserve a slot (so we are dialable through it, which
   * is all "online" means), learn from identify which of Hearth's extras it
   * offers, hold those (presence, mailbox) for as long as the reservation
   * lasts, and when it is lost, start over with backoff. Any circuit relay v2
   * node will do; an extra that fails never takes us off the relay.
   */
  async relayLoop (relay, signal) {
    let delay = DEFAULTS.relayRetryMin
    const circuit = relay.addr.encapsulate('/p2p-circuit')
    while (!signal.aborted) {
      const visit = new AbortController()
      const visitSignal = AbortSignal.any([signal, visit.signal])
      const extras = []
      let duplicate = false
      try {
        await this.reserveOn(relay, circuit, signal)
        const lost = reservationLost(this.node, relay.peerId, () => this.listensThrough(relay), visitSignal)
        relay.offers = await relayOffers(this.node, relay.peerId, { signal: AbortSignal.any([visitSignal, AbortSignal.timeout(this.timeouts.dial)]) })
          .catch(err => {
            this.logger.warn?.(`p2p: relay ${relay.peerId} did not say what it offers (${err.message}): using it for relaying only`)
            return []
          })
        delay = DEFAULTS.relayRetryMin
        this.logger.info?.(`p2p: on relay ${relay.peerId} (${relay.offers.length > 0 ? `offers ${relay.offers.join(', ')}` : 'relaying only'})`)
        if (relay.offers.includes('routing')) this.learnRelays(relay, visitSignal)
        const goOnline = once(() => {
          this.setOnline(relay, true)
          if (relay.offers.includes('mailbox')) extras.push(this.keepMailbox(relay, visitSignal))
        })
        if (relay.offers.includes('presence')) {
          // Online, and the mailbox open, only once presence said we are the
          // only copy of this server here: a second copy must neither draw
          // our traffic nor take our mail. A relay whose presence fails still
          // relays for us: online without it.
          extras.push(this.keepPresence(relay, visitSignal, {
            onSole: goOnline,
            onDuplicate: () => { duplicate = true; visit.abort() },
            onEnded: () => { if (!duplicate) goOnline() }
          }))
        } else {
          goOnline()
        }
        await Promise.race([lost, new Promise(resolve => visitSignal.addEventListener('abort', resolve, { once: true }))])
        if (!signal.aborted && !duplicate) this.logger.warn?.(`p2p: lost relay ${relay.peerId}, reconnecting`)
      } catch (err) {
        if (signal.aborted) break
        this.logger.warn?.(`p2p: relay ${relay.addr} unavailable (${err.message}), retrying in ${delay} ms`)
      } finally {
        visit.abort()
        await Promise.all(extras)
      }
      relay.offers = []
      if (!signal.aborted && !relay.failed) {
        relay.failed = true
        // A given relay counts as in use until it first fails (fillRelays): one
        // that never came up changes no online state, so make room here.
        if (!relay.learned) this.fillRelays()
      }
      if (relay.learned && !signal.aborted && !duplicate) {
        // A learned relay that failed us is swapped for another (fillRelays), not waited for.
        const learned = this.learnedRelays.get(relay.peerId.toString())
        if (learned != null) learned.failedAt = Date.now()
        this.setOnline(relay, false) // listeners see it go offline, then go
        this.relays = this.relays.filter(r => r !== relay)
        this.relaysChanged()
        return
      }
      this.setOnline(relay, false)
      if (duplicate) {
        const err = new DuplicateServerError(this.peerId.toString(), relay.peerId.toString())
        this.logger.warn?.(`p2p: ${err.message}`)
        relay.duplicate = true
        // Leave the relay at once: our reservation there would draw the other copy's traffic.
        await this.node?.hangUp(relay.peerId).catch(() => {})
        this.relaysChanged()
        try { this.onDuplicate?.(err) } catch (e) { this.logger.warn?.(`p2p: duplicate listener threw: ${e.message}`) }
        return
      }
      await sleep(delay, signal)
      delay = Math.min(delay * 2, DEFAULTS.relayRetryMax)
    }
  }

  /**
   * Holds our presence subscription on one relay while `signal` (one visit of
   * the relay loop) lasts, reopening a broken one with backoff. Peers learned
   * there are forgotten whenever it ends. Never rejects.
   * @param {{onSole: () => void, onDuplicate: () => void, onEnded: () => void}} hooks
   *   onSole: the relay said we are the only copy of this server there; onDuplicate:
   *   it said another copy is already there (the subscription then ends); onEnded:
   *   a subscription ended or failed
   */
  async keepPresence (relay, signal, { onSole, onDuplicate, onEnded }) {
    await this.keepExtra(relay, 'presence', signal, () => subscribePresence(this.node, relay.peerId, {
      signal,
      watched: {
        list: () => this.watched,
        listen: (changed) => {
          this.watchListeners.add(changed)
          return () => this.watchListeners.delete(changed)
        }
      },
      onSubscribed: () => {
        onSole() // online first: listeners see presence only on a relay we are on
        this.setPresence(relay, true)
      },
      onDuplicate,
      onPeers: (peers) => {
        const now = new Set(peers.filter(p => p !== this.peerId.toString()))
        for (const peer of relay.known) if (!now.has(peer)) this.forget(relay, peer)
        for (const peer of now) this.learn(relay, peer)
      },
      onJoin: (peer) => this.learn(relay, peer),
      onLeave: (peer) => this.forget(relay, peer)
    }), () => {
      for (const peer of relay.known) this.forget(relay, peer)
      this.setPresence(relay, false)
      onEnded()
    })
  }

  /** Opens our mailbox on the relay relayId, delivering to this peer's handlers. */
  openMailboxOn (relayId, signal) {
    return openMailbox(this.node, relayId, {
      self: this.peerId.toString(),
      onMail: this.onMail,
      onNotice: this.onNotice,
      timeoutMs: this.timeouts.request,
      signal,
      logger: this.logger
    })
  }

  /**
   * Holds our mailbox stream on one relay while `signal` lasts, reopening a
   * broken one with backoff. Never rejects.
   */
  async keepMailbox (relay, signal) {
    await this.keepExtra(relay, 'mailbox', signal, async () => {
      const mailbox = await this.openMailboxOn(relay.peerId, signal)
      this.setMailbox(relay, mailbox)
      await mailbox.closed
    }, () => this.setMailbox(relay, null))
  }

  /**
   * Runs `hold` (which resolves or rejects when the extra ends) again and
   * again with backoff until signal aborts, calling `ended` after each run.
   * A relay that turns out not to speak the protocol after all (identify said
   * it did) is not asked again this visit.
   */
  async keepExtra (relay, name, signal, hold, ended) {
    let delay = DEFAULTS.relayRetryMin
    while (!signal.aborted) {
      try {
        await hold()
        if (!signal.aborted) this.logger.warn?.(`p2p: ${name} on relay ${relay.peerId} ended, reopening in ${delay} ms`)
      } catch (err) {
        if (signal.aborted) break
        if (err.name === 'UnsupportedProtocolError') {
          this.logger.info?.(`p2p: relay ${relay.peerId} has no ${name} after all`)
          break
        }
        this.logger.warn?.(`p2p: ${name} on relay ${relay.peerId} unavailable (${err.message}), retrying in ${delay} ms`)
      } finally {
        ended()
      }
      await sleep(delay, signal)
      delay = Math.min(delay * 2, DEFAULTS.relayRetryMax)
    }
  }

  /**
   * Makes sure we hold a reservation on the relay. libp2p's listen() takes no
   * signal and has hung forever on a dropped reservation (see start()): it is
   * raced against stop() and a deadline, so no relay loop can outlive the node.
   * @throws {RelayReservationError} no reservation within the deadline
   */
  async reserveOn (relay, circuit, signal) {
    if (this.listensThrough(relay)) return
    const deadline = AbortSignal.timeout(DEFAULTS.reservationTimeout)
    const listening = this.node.components.transportManager.listen([circuit])
    listening.catch(() => {}) // settles after we stopped waiting, or never
    await abortable(listening, AbortSignal.any([signal, deadline]))
      .catch(err => {
        if (signal.aborted) throw err
        throw new RelayReservationError(`no reservation on relay ${relay.peerId} within ${DEFAULTS.reservationTimeout} ms`, { cause: err })
      })
    if (this.listensThrough(relay)) return
    // listen() swallows its errors (faultTolerance NO_FATAL, see start()): say which it was
    const why = this.node.getConnections(relay.peerId).length === 0 ? 'unreachable' : 'refused us a reservation'
    throw new RelayReservationError(`relay ${relay.peerId} ${why}`)
  }

  listensThrough (relay) {
    const id = relay.peerId.toString()
    return this.node.getMultiaddrs().some(ma => {
      const parts = ma.getComponents()
      const circuitAt = parts.findIndex(c => c.name === 'p2p-circuit')
      return circuitAt > 0 && parts[circuitAt - 1].name === 'p2p' && parts[circuitAt - 1].value === id
    })
  }

  /**
   * Asks a relay which relays it is linked with and keeps them as candidates
   * (fillRelays picks from them). Best effort: a relay that cannot say is
   * still a relay.
   */
  learnRelays (relay, signal) {
    this.askedForRelaysAt = Date.now()
    askRouting(this.node, relay.peerId, { op: 'relays' }, { signal: AbortSignal.any([signal, AbortSignal.timeout(this.timeouts.dial)]) })
      .then(answer => {
        const added = this.addLearnedRelays(answer.relays)
        if (added > 0) {
          this.logger.info?.(`p2p: relay ${relay.peerId} told us of ${added} more relay${added === 1 ? '' : 's'}`)
          this.saveRelayBook()
        }
        this.fillRelays()
      })
      .catch(err => {
        if (!signal.aborted) this.logger.warn?.(`p2p: relay ${relay.peerId} did not say which relays it is linked with: ${err.message}`)
      })
  }

  /** Keeps the learned relays (relayBook), one save after another; stop() waits for the last. */
  saveRelayBook () {
    if (this.relayBook == null || this.node == null) return
    const addrs = [...this.learnedRelays.values()].map(l => l.addr.toString())
    this.relayBookSaved = (this.relayBookSaved ?? Promise.resolve())
      .then(() => this.relayBook.save(addrs))
      .catch(err => this.logger.warn?.(`p2p: could not keep the relays we learned: ${err.message}`))
  }

  /** Adds the relays kept by earlier lives (relayBook) to the candidates; a book that cannot be read is no reason not to start. */
  async loadRelayBook () {
    if (this.relayBook == null) return
    let kept
    try {
      kept = await this.relayBook.load()
    } catch (err) {
      this.logger.warn?.(`p2p: could not read the relays learned before: ${err.message}`)
      return
    }
    this.addLearnedRelays(kept)
  }

  /**
   * Adds relay addresses from the wire or the relay book to the candidates,
   * but not the relays we were given, those we have, or past
   * MAX_LEARNED_RELAYS. @returns {number} how many were added
   */
  addLearnedRelays (list) {
    const given = new Set(this.relays.filter(r => !r.learned).map(r => r.peerId.toString()))
    let added = 0
    for (const ma of relayAddrsFrom(list)) {
      const id = relayIdOf(ma)
      if (given.has(id) || this.learnedRelays.has(id) || this.learnedRelays.size >= MAX_LEARNED_RELAYS) continue
      this.learnedRelays.set(id, { addr: ma, failedAt: 0 })
      added++
    }
    return added
  }

  /**
   * Keeps us on maxRelays relays: the ones we were given always, and while
   * fewer than maxRelays of those are online, learned ones (random, so peers
   * spread over the relays), none that failed us in the last 30 s.
   */
  fillRelays () {
    if (this.lifetime == null || this.lifetime.signal.aborted || this.node == null) return
    // a given relay counts until it has failed us once: at start it is still connecting
    const inUse = () => this.relays.filter(r => r.learned || r.online || !r.failed).length
    while (inUse() < this.maxRelays) {
      const using = new Set(this.relays.map(r => r.peerId.toString()))
      const candidates = [...this.learnedRelays].filter(([id, l]) => !using.has(id) && Date.now() - l.failedAt > LEARNED_RELAY_REST_MS)
      if (candidates.length === 0) {
        // maybe more relays were linked since we asked
        const asker = this.relays.find(r => r.online && r.offers.includes('routing'))
        if (asker != null && Date.now() - this.askedForRelaysAt > 5_000) this.learnRelays(asker, this.lifetime.signal)
        return
      }
      const [id, learned] = candidates[Math.floor(Math.random() * candidates.length)]
      const relay = newRelayEntry(learned.addr, id, true)
      this.relays.push(relay)
      this.logger.info?.(`p2p: also using relay ${id}, learned from our relays`)
      this.loops.push(this.relayLoop(relay, this.lifetime.signal))
      this.relaysChanged()
    }
  }

  /**
   * Where a peer is, by asking our relays that answer routing lookups (they
   * ask their linked relays): relay addresses where it holds a reservation,
   * and where mail for it is kept. Empty when no relay of ours can tell.
   * @returns {Promise<{reserved: Multiaddr[], mailbox: Multiaddr[]}>}
   */
  async locate (peerId, signal) {
    const askers = this.relays.filter(r => r.online && r.offers.includes('routing'))
    const answers = await Promise.allSettled(askers.map(relay =>
      askRouting(this.node, relay.peerId, { op: 'find', peer: peerId }, { signal })))
    const reserved = new Map()
    const mailbox = new Map()
    for (const result of answers) {
      if (result.status !== 'fulfilled') continue
      for (const ma of relayAddrsFrom(result.value.reserved)) if (!reserved.has(relayIdOf(ma))) reserved.set(relayIdOf(ma), ma)
      for (const ma of relayAddrsFrom(result.value.mailbox)) if (!mailbox.has(relayIdOf(ma))) mailbox.set(relayIdOf(ma), ma)
    }
    return { reserved: [...reserved.values()], mailbox: [...mailbox.values()] }
  }

  learn (relay, peer) {
    if (peer === this.peerId.toString() || relay.known.has(peer)) return
    const wasKnown = this.isKnown(peer)
    relay.known.add(peer)
    if (!wasKnown) this.emit({ type: 'join', peerId: peer })
  }

  forget (relay, peer) {
    if (!relay.known.delete(peer) || this.isKnown(peer)) return
    // A peer that left may have left silently: drop our connection so the next
    // request dials afresh and fails fast instead of waiting on a dead circuit.
    this.node?.hangUp(peerIdFromString(peer)).catch(() => {})
    this.emit({ type: 'leave', peerId: peer })
  }

  /**
   * Where we stand with each relay: online = we hold a reservation, so we are
   * dialable through it (any circuit relay v2 node); offers = the Hearth extras
   * it listed in identify ('presence', 'mailbox'), [] for a stock libp2p relay;
   * presence = our subscription there is open, so we learn who else is there;
   * mailbox = our mailbox stream there is open (it keeps and pushes our mail);
   * duplicate = it said another copy of this server is online there;
   * learned = another relay told us of it (routing), we were not given it.
   * @returns {Array<{addr: string, peerId: string, online: boolean, offers: string[], presence: boolean, mailbox: boolean, duplicate: boolean, learned: boolean}>}
   */
  relayStatus () {
    return this.relays.map(r => ({
      addr: r.addr.toString(),
      peerId: r.peerId.toString(),
      online: r.online,
      offers: [...r.offers],
      presence: r.presence,
      mailbox: r.mailbox != null,
      duplicate: r.duplicate,
      learned: r.learned
    }))
  }

  /** @param {(relays: ReturnType<HearthP2P['relayStatus']>) => void} listener @returns {() => void} unsubscribe */
  onRelays (listener) {
    this.relayListeners.add(listener)
    return () => this.relayListeners.delete(listener)
  }

  setOnline (relay, online) {
    if (relay.online === online) return
    relay.online = online
    this.relaysChanged()
  }

  setPresence (relay, presence) {
    if (relay.presence === presence) return
    relay.presence = presence
    this.relaysChanged()
  }

  setMailbox (relay, mailbox) {
    const changed = (relay.mailbox == null) !== (mailbox == null)
    relay.mailbox = mailbox
    if (changed) this.relaysChanged()
  }

  relaysChanged () {
    if (!this.filling) {
      this.filling = true
      try { this.fillRelays() } finally { this.filling = false }
    }
    const status = this.relayStatus()
    for (const listener of this.relayListeners) {
      try { listener(status) } catch (err) { this.logger.warn?.(`p2p: relay listener threw: ${err.message}`) }
    }
  }

  isKnown (peer) {
    return this.relays.some(r => r.known.has(peer))
  }

  peers () {
    const all = new Set()
    for (const relay of this.relays) for (const peer of relay.known) all.add(peer)
    return [...all]
  }

  /**
   * Sets the peers our relays tell us about (presence.js): the servers we
   * share rooms with, as Go says. peers() and onPeers then cover those only;
   * a peer not watched is still reached by dialing (routing finds it).
   * @param {string[]} peerIds
   */
  watch (peerIds) {
    this.ownerWatches = peerIds.filter(p => typeof p === 'string')
    this.updateWatched()
  }

  updateWatched () {
    const self = this.peerId.toString()
    const next = [...new Set([...this.ownerWatches, ...this.waitedFor])].filter(p => p !== self).sort().slice(0, MAX_WATCHED)
    if (next.length === this.watched.length && next.every((p, i) => p === this.watched[i])) return
    this.watched = next
    for (const changed of this.watchListeners) changed()
  }

  /** @param {(event: {type: 'join'|'leave', peerId: string}) => void} listener @returns {() => void} unsubscribe */
  onPeers (listener) {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  emit (event) {
    this.logger.info?.(`p2p: peer ${event.peerId} ${event.type === 'join' ? 'joined' : 'left'}`)
    for (const listener of this.listeners) {
      try { listener(event) } catch (err) { this.logger.warn?.(`p2p: peer listener threw: ${err.message}`) }
    }
  }

  /** Resolves once `peerId` is present on a relay of ours (or already is), watching it from then on; rejects on signal abort. */
  waitForPeer (peerId, { signal } = {}) {
    if (this.isKnown(peerId)) return Promise.resolve()
    // One cannot see a peer one does not ask about: it stays watched from now on.
    if (!this.waitedFor.has(peerId)) {
      this.waitedFor.add(peerId)
      this.updateWatched()
    }
    return new Promise((resolve, reject) => {
      const onAbort = () => { stop(); reject(signal.reason) }
      const stop = this.onPeers(event => {
        if (event.type === 'join' && event.peerId === peerId) {
          stop()
          signal?.removeEventListener('abort', onAbort)
          resolve()
        }
      })
      signal?.addEventListener('abort', onAbort, { once: true })
    })
  }

  /**
   * Sends one federation request to a peer and returns its response.
   * @param {string} peerId the destination server name
   * @param {{head: string, body: Uint8Array|null}} request the bridge's request shape
   * @param {{signal?: AbortSignal}} [opts] abort = the caller gave up (Go's context)
   * @returns {Promise<{head: string, body: Uint8Array}>} the bridge's response shape
   */
  async roundTrip (peerId, request, { signal } = {}) {
    if (typeof request?.head !== 'string') throw new TypeError('request.head must be a JSON string')
    if (this.node == null) throw new P2PNotRunningError('the p2p node is not running')
    // on a long-lived stream to the peer when it speaks FEDERATION_STREAM_PROTOCOL (request-streams.js)
    return this.requestStreams.roundTrip(peerId, request, { timeoutMs: this.timeouts.request, signal })
  }

  /**
   * Opens a stream to a peer through our relays.
   * @param {string} peerId
   * @param {string|string[]} protocol one, or several in order of preference (the stream's `protocol` says which)
   * @param {{signal?: AbortSignal}} [opts]
   */
  async dial (peerId, protocol, { signal } = {}) {
    const node = this.node
    if (node == null) throw new P2PNotRunningError('the p2p node is not running')
    let target
    try {
      target = peerIdFromString(peerId)
    } catch (err) {
      throw new PeerUnreachableError(`${JSON.stringify(peerId)} is not a peer ID`, { cause: err })
    }
    if (target.equals(this.peerId)) throw new PeerUnreachableError('refusing to federate with ourselves over p2p')
    const dialSignal = AbortSignal.any([AbortSignal.timeout(this.timeouts.dial), ...(signal ? [signal] : [])])
    const circuits = (relayAddrs) => relayAddrs.map(addr => addr.encapsulate(`/p2p-circuit/p2p/${peerId}`))
    const ours = this.relays.map(r => r.addr)
    const ourIds = new Set(this.relays.map(r => r.peerId.toString()))
    // A peer we have no connection to and presence has not shown us on our
    // relays is looked up at once, while we try our relays: the lookup costs
    // two small round trips, the failed try through our relays about one.
    const lookup = () => this.locate(peerId, dialSignal).then(found => found.reserved.filter(ma => !ourIds.has(relayIdOf(ma))))
    const early = this.isKnown(peerId) || node.getConnections(target).length > 0 ? null : lookup()
    early?.catch(() => {})
    let firstErr
    try {
      // Full negotiation (the default): measured no faster with negotiateFully: false,
      // and a peer without the protocol then fails here, clearly, not mid-read.
      return await node.dialProtocol(circuits(ours), protocol, { signal: dialSignal })
    } catch (err) {
      if (signal?.aborted) throw signal.reason
      firstErr = err
    }
    // Not through our relays: ask them where it is (they ask their linked relays).
    let located = []
    if (!dialSignal.aborted) located = await (early ?? lookup()).catch(() => [])
    try {
      if (located.length === 0) throw firstErr
      return await node.dialProtocol(circuits(located), protocol, { signal: dialSignal })
    } catch (err) {
      if (signal?.aborted) throw signal.reason
      const why = this.isKnown(peerId) ? 'known but not answering' : located.length > 0 ? 'found on another relay but not answering' : 'not on any relay we use or can ask'
      throw new PeerUnreachableError(`peer ${peerId} is unreachable (${why}): ${err.message}`, { cause: err })
    }
  }

  /**
   * Leaves mail for a peer that is away: tries our mailbox on each relay we
   * are online on, in order, until one has stored it on disk.
   * @param {string} peerId the recipient
   * @param {string} ref the sender's transaction ID: (us, peerId, ref) is stored once
   * @param {Uint8Array} bytes sealed to the recipient (Go seals; the relay cannot read it)
   * @param {{signal?: AbortSignal}} [opts]
   * @returns {Promise<{relay: string, expiresAt: number}>} the relay's peer ID, and when it drops the mail unread
   * @throws {Error} named MailboxTooLargeError, MailboxFullError, MailboxRateLimitedError (the
   *   most telling refusal), MailboxUnavailableError (no mailbox, unknown recipient or no answer
   *   anywhere), MailboxBadRequestError or P2PNotRunningError
   */
  async deposit (peerId, ref, bytes, { signal } = {}) {
    if (this.node == null) throw new P2PNotRunningError('the p2p node is not running')
    // Every relay that keeps mail for the recipient gets a copy (README, "Several
    // relays"): ours (each refuses a recipient it does not know), and the ones a
    // lookup names, so the mail outlives any one relay.
    const targets = this.relays.filter(r => r.online && r.mailbox != null)
      .map(relay => ({ id: relay.peerId.toString(), mailbox: () => relay.mailbox }))
    const ourIds = new Set(targets.map(t => t.id))
    const lookup = signal == null ? AbortSignal.timeout(this.timeouts.dial) : AbortSignal.any([signal, AbortSignal.timeout(this.timeouts.dial)])
    const located = await this.locate(peerId, lookup).catch(() => ({ mailbox: [] }))
    for (const ma of located.mailbox) {
      const id = relayIdOf(ma)
      if (!ourIds.has(id)) targets.push({ id, mailbox: () => this.visitMailbox(ma, id) })
    }
    const refusals = []
    const stored = []
    await Promise.all(targets.map(async (target) => {
      try {
        const mailbox = await target.mailbox()
        const { expiresAt } = await mailbox.deposit(peerId, ref, bytes, { signal })
        stored.push({ relay: target.id, expiresAt })
      } catch (err) {
        refusals.push(err)
      }
    }))
    if (signal?.aborted) throw signal.reason
    if (stored.length > 0) {
      // the mail is safe until the first copy expires
      return stored.reduce((a, b) => a.expiresAt <= b.expiresAt ? a : b)
    }
    const bad = refusals.find(err => err.name === 'MailboxBadRequestError')
    if (bad != null) throw bad // every relay would say the same
    throw mostTelling(refusals, peerId)
  }

  /**
   * A mailbox session on a relay we hold no reservation on, opened to leave
   * mail there and closed after VISITED_MAILBOX_IDLE_MS without deposits. It
   * carries our own mail and notices too, while it is open.
   */
  visitMailbox (addr, id) {
    let visit = this.visitedMailboxes.get(id)
    if (visit == null) {
      const controller = new AbortController()
      const signal = AbortSignal.any([controller.signal, this.lifetime.signal])
      const opening = (async () => {
        await this.node.dial(addr, { signal: AbortSignal.any([signal, AbortSignal.timeout(this.timeouts.dial)]) })
        const mailbox = await this.openMailboxOn(peerIdFromString(id), signal)
        mailbox.closed.finally(() => visit.close())
        return mailbox
      })()
      visit = {
        opening,
        timer: null,
        close: () => {
          clearTimeout(visit.timer)
          controller.abort()
          if (this.visitedMailboxes.get(id) === visit) this.visitedMailboxes.delete(id)
        }
      }
      opening.catch(() => visit.close())
      this.visitedMailboxes.set(id, visit)
    }
    clearTimeout(visit.timer)
    visit.timer = setTimeout(visit.close, VISITED_MAILBOX_IDLE_MS)
    return visit.opening
  }
}

/** The refusal to report when no relay took a deposit: the one that says most about what to do. */
function mostTelling (refusals, peerId) {
  for (const name of ['MailboxTooLargeError', 'MailboxFullError', 'MailboxRateLimitedError']) {
    const named = refusals.filter(err => err.name === name)
    if (named.length > 0) return named.reduce((a, b) => (a.retryAfterMs ?? 0) <= (b.retryAfterMs ?? 0) ? a : b)
  }
  const why = refusals.length === 0
    ? 'no relay we are on keeps mail'
    : refusals.map(err => `${err.name}: ${err.message}`).join('; ')
  return new MailboxUnavailableError(`no relay took mail for ${peerId}: ${why}`, { cause: refusals[0] })
}

/** Relays we keep as candidates: a community's relays, not a directory. */
const MAX_LEARNED_RELAYS = 64

/** ms a learned relay that failed us is not tried again. */
const LEARNED_RELAY_REST_MS = 30_000

/** ms a mailbox session on a relay we are not on stays open after its last deposit. */
const VISITED_MAILBOX_IDLE_MS = 60_000

/**
 * One relay we use. learned: it came from a relay's routing answer, not from
 * relayAddrs (it is dropped, not retried, when it fails); failed: we have lost
 * or failed to reach it at least once (fillRelays stops counting it); known: peers its
 * presence listed; offers: Hearth extras it listed in identify (relay-watch.js);
 * presence: our subscription there is open; mailbox: our open mailbox on it
 * (mailbox.js), null when none; duplicate: it said another copy of us is
 * online there (we stay off it).
 */
function newRelayEntry (addr, relayId, learned) {
  return { addr, peerId: peerIdFromString(relayId), learned, failed: false, known: new Set(), online: false, offers: [], presence: false, mailbox: null, duplicate: false }
}

/** fn, called at most once however often the result is. */
function once (fn) {
  let called = false
  return () => {
    if (called) return
    called = true
    fn()
  }
}
