/**
 * Who is online, through the relay: both ends of PRESENCE_PROTOCOL (2.0.0).
 *
 * A peer asks about the peers it cares about (the servers it shares rooms
 * with) and hears only about those: no peer learns the relay's whole
 * population, and a join or leave costs one message per peer watching it,
 * not one per peer present (issue 17; version 1 told everyone everything).
 * Finding a peer one does not yet watch is routing's job (routing.js).
 *
 * Why not gossipsub or a DHT: every peer already holds one connection to the
 * relay, and the relay already knows who holds a reservation. Letting it say
 * so costs one stream per peer; joins and leaves arrive within milliseconds
 * of the connection changing.
 *
 * Wire: length-prefixed (unsigned varint) UTF-8 JSON messages.
 *   peer → relay  {"watch": ["12D3KooW…", …]}   the peers to hear about (the
 *                 whole set, replacing the last; at most MAX_WATCHED)
 *   relay → peer  {"peers": [...]}   first message, at once: [] (nothing is
 *                 watched yet), with "copies": n (n > 0) when your peer ID is
 *                 already present over n other connections: another live
 *                 copy of your server (a restarting peer re-subscribes over
 *                 the same connection, so it is not counted). Again after
 *                 each watch message: which of the watched peers are present.
 *                 {"join": "12D3KooW…"} / {"leave": "12D3KooW…"}: a watched
 *                 peer became present / is gone
 * "Present" means "dialable through this relay": a peer is listed while it
 * holds a reservation and any of its presence streams is open (a restarting
 * peer may briefly hold two). A subscriber without a reservation still hears
 * about the peers it watches, but is not listed until it reserves (issue 11,
 * defect 7: such "ghosts" were listed and could not be dialled). Closing its
 * side for writing means the subscriber is gone.
 */
import { lpStream } from '@libp2p/utils'
import { MAX_PRESENCE_MESSAGE_BYTES, MAX_WATCHED, PRESENCE_PROTOCOL } from './constants.js'
import { P2PProtocolError } from './errors.js'

const encoder = new TextEncoder()
const decoder = new TextDecoder()
/** At most this many watch lists per subscription in WATCH_WINDOW_MS; more ends the subscription. */
const MAX_WATCH_LISTS_PER_WINDOW = 30
const WATCH_WINDOW_MS = 10_000

/**
 * Relay side: answers presence subscriptions on the given libp2p node.
 * @param {import('@libp2p/interface').Libp2p} node
 * @param {{onJoin?: (peerId: string) => void, onLeave?: (peerId: string) => void,
 *          reserved?: (peerId: string) => boolean}} [hooks]
 *   reserved says whether a peer holds a reservation (absent: everyone does);
 *   call the returned reservationChanged(peer) whenever its answer changes
 * @returns {Promise<{present: () => string[], reservationChanged: (peerId: string) => void,
 *                    stop: () => Promise<void>, messagesSent: () => number}>}
 */
export async function servePresence (node, hooks = {}) {
  const reserved = hooks.reserved ?? (() => true)
  /** peer ID string → its open subscriptions (lp streams); absent when it has none */
  const subscribers = new Map()
  /** the peers others are told about: subscribed and reserved */
  const listed = new Set()
  /** subscription (lp stream) → the connection it came over */
  const connectionOf = new Map()
  /** subscription → the peers it watches */
  const watchedBy = new Map()
  /** peer ID → the subscriptions watching it */
  const watchers = new Map()
  let messagesSent = 0

  const sendTo = (lp, message) => {
    messagesSent++
    lp.write(encoder.encode(JSON.stringify(message))).catch(() => {
      // the stream's close handler removes it; nothing else to do
    })
  }
  /** lists or unlists a peer to match its subscriptions and reservation, telling its watchers */
  const reconcile = (peer) => {
    const shouldList = subscribers.has(peer) && reserved(peer)
    if (shouldList === listed.has(peer)) return
    const message = shouldList ? { join: peer } : { leave: peer }
    if (shouldList) listed.add(peer)
    else listed.delete(peer)
    for (const lp of watchers.get(peer) ?? []) sendTo(lp, message)
    if (shouldList) hooks.onJoin?.(peer)
    else hooks.onLeave?.(peer)
  }
  /** replaces what one subscription watches */
  const setWatched = (lp, peers) => {
    for (const peer of watchedBy.get(lp) ?? []) {
      const set = watchers.get(peer)
      set?.delete(lp)
      if (set?.size === 0) watchers.delete(peer)
    }
    if (peers === null) {
      watchedBy.delete(lp)
      return
    }
    watchedBy.set(lp, peers)
    for (const peer of peers) {
      if (!watchers.has(peer)) watchers.set(peer, new Set())
      watchers.get(peer).add(lp)
    }
  }

  await node.handle(PRESENCE_PROTOCOL, (stream, connection) => {
    const peer = connection.remotePeer.toString()
    const lp = lpStream(stream, { maxDataLength: MAX_PRESENCE_MESSAGE_BYTES })
    let subscriptions = subscribers.get(peer)
    if (subscriptions === undefined) {
      subscriptions = new Set()
      subscribers.set(peer, subscriptions)
    }
    const copies = [...subscriptions].filter(other => {
      const c = connectionOf.get(other)
      return c.id !== connection.id && c.status === 'open'
    }).length
    subscriptions.add(lp)
    connectionOf.set(lp, connection)
    sendTo(lp, { peers: [], ...(copies > 0 && { copies }) })
    reconcile(peer)

    let gone = false
    const leave = () => {
      if (gone) return
      gone = true
      setWatched(lp, null)
      subscriptions.delete(lp)
      connectionOf.delete(lp)
      if (subscriptions.size === 0 && subscribers.get(peer) === subscriptions) {
        subscribers.delete(peer)
        reconcile(peer)
      }
    }
    stream.addEventListener('close', leave)
    // Watch lists until the subscriber ends its side: that means it is gone.
    ;(async () => {
      const recent = [] // when its last watch lists came (ms)
      try {
        for (;;) {
          const watch = parseWatch(await lp.read())
          // A watch list changes when rooms do; a flood of them only costs the relay.
          recent.push(Date.now())
          if (recent.length > MAX_WATCH_LISTS_PER_WINDOW) {
            if (recent[recent.length - 1] - recent.shift() < WATCH_WINDOW_MS) throw new P2PProtocolError('watch lists too often')
          }
          setWatched(lp, watch)
          sendTo(lp, { peers: [...watch].filter(p => listed.has(p) && p !== peer) })
        }
      } catch {
        // the end of its writing, a broken stream or a malformed message: it is gone
      }
      leave()
      stream.close().catch(() => stream.abort(new Error('presence stream close failed')))
    })()
  }, { maxInboundStreams: 4 })

  return {
    present: () => [...listed],
    reservationChanged: reconcile,
    messagesSent: () => messagesSent,
    stop: async () => {
      await node.unhandle(PRESENCE_PROTOCOL)
      subscribers.clear()
      listed.clear()
      connectionOf.clear()
      watchedBy.clear()
      watchers.clear()
    }
  }
}

/**
 * A subscriber's watch message: the set of peer IDs it names.
 * @throws {P2PProtocolError} not {"watch": [peer IDs]} within MAX_WATCHED
 */
export function parseWatch (bytes) {
  const message = parsePresenceMessage(bytes.subarray())
  const list = message.watch
  if (!Array.isArray(list) || list.length > MAX_WATCHED || !list.every(isString)) {
    throw new P2PProtocolError(`a watch message must name at most ${MAX_WATCHED} peer IDs`)
  }
  return new Set(list)
}

/**
 * Peer side: subscribes to a relay's presence and reports what it says.
 * Resolves when the subscription ends (relay gone or signal aborted); the
 * caller then treats every peer learned from this relay as gone.
 * @param {import('@libp2p/interface').Libp2p} node
 * @param {import('@libp2p/interface').PeerId} relay
 * @param {{onPeers: (peers: string[]) => void, onJoin: (peer: string) => void,
 *          onLeave: (peer: string) => void, onSubscribed?: () => void,
 *          onDuplicate?: (copies: number) => void, signal: AbortSignal,
 *          watched?: {list: () => string[], listen: (changed: () => void) => () => void}}} handlers
 *   onPeers: which watched peers are present (the whole truth, for the watch list
 *   last sent); onDuplicate: the relay says our peer ID is already present over
 *   other connections; the subscription ends at once (nothing else is reported);
 *   watched: the peers to ask about, and how to hear that they changed (none: ask
 *   about nobody)
 */
export async function subscribePresence (node, relay, handlers) {
  const { signal, watched = { list: () => [], listen: () => () => {} } } = handlers
  const stream = await node.dialProtocol(relay, PRESENCE_PROTOCOL, { signal })
  const onAbort = () => stream.abort(new Error('presence subscription stopped'))
  signal.addEventListener('abort', onAbort, { once: true })
  // We write watch lists and never half-close: the relay reads the end of our
  // writing as "unsubscribed".
  const lp = lpStream(stream, { maxDataLength: MAX_PRESENCE_MESSAGE_BYTES })
  const sendWatch = () => lp.write(encoder.encode(JSON.stringify({ watch: watched.list().slice(0, MAX_WATCHED) }))).catch(() => {
    // a broken stream ends the read loop below
  })
  const unlisten = watched.listen(sendWatch)
  try {
    sendWatch()
    let first = true
    for (;;) {
      let bytes
      try {
        bytes = await lp.read({ signal })
      } catch (err) {
        if (signal.aborted || err.name === 'UnexpectedEOFError' || stream.status !== 'open') return
        throw err
      }
      const message = parsePresenceMessage(bytes.subarray())
      if (first) {
        first = false
        // Online only once the relay has said we are the only copy here.
        if (Number.isInteger(message.copies) && message.copies > 0) {
          handlers.onDuplicate?.(message.copies)
          return
        }
        handlers.onSubscribed?.()
      }
      if (Array.isArray(message.peers)) handlers.onPeers(message.peers.filter(isString))
      else if (isString(message.join)) handlers.onJoin(message.join)
      else if (isString(message.leave)) handlers.onLeave(message.leave)
      // unknown messages are ignored: newer relays may say more
    }
  } finally {
    unlisten()
    signal.removeEventListener('abort', onAbort)
    if (stream.status === 'open') stream.abort(new Error('presence subscription ended'))
  }
}

/**
 * One message from the relay, as sent (unknown fields and shapes included:
 * the caller picks what it knows).
 * @param {Uint8Array} bytes
 * @returns {object}
 * @throws {P2PProtocolError} not a JSON object
 */
export function parsePresenceMessage (bytes) {
  try {
    const message = JSON.parse(decoder.decode(bytes))
    if (message === null || typeof message !== 'object') throw new Error('not an object')
    return message
  } catch (err) {
    throw new P2PProtocolError(`bad presence message from the relay: ${err.message}`, { cause: err })
  }
}

function isString (value) {
  return typeof value === 'string' && value.length > 0 && value.length < 200
}
