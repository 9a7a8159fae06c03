/**
 * Discovery through the relay, both ends of PRESENCE_PROTOCOL.
 *
 * Why not gossipsub or a DHT: every peer already holds one connection to the
 * relay, and the relay already knows who holds a reservation. Letting it say
 * so costs one stream per peer and tells a new peer who is there in one round
 * trip; joins and leaves arrive within milliseconds of the connection
 * changing (the anchor polled a DHT every 5 s and took minutes to converge).
 *
 * Wire: length-prefixed (unsigned varint) UTF-8 JSON messages, relay → peer only:
 *   {"peers": ["12D3KooW…", …]}   first message: everyone present but you;
 *     with "copies": n (n > 0) when your peer ID is already present over n
 *     other connections: another live copy of your server (a restarting peer
 *     re-subscribes over the same connection, so it is not counted)
 *   {"join": "12D3KooW…"}          a peer became present
 *   {"leave": "12D3KooW…"}         a peer is gone
 * "Present" means "dialable through this relay": a peer is listed while it
 * holds a reservation and any of its presence streams is open (a restarting
 * peer may briefly hold two). A subscriber without a reservation still hears
 * who is there, but is not listed until it reserves (issue 11, defect 7: such
 * "ghosts" were listed and could not be dialled).
 */
import { lpStream } from '@libp2p/utils'
import { MAX_PRESENCE_MESSAGE_BYTES, PRESENCE_PROTOCOL } from './constants.js'
import { P2PProtocolError } from './errors.js'

const encoder = new TextEncoder()
const decoder = new TextDecoder()

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
  let messagesSent = 0

  const sendTo = (lp, message) => {
    messagesSent++
    lp.write(encoder.encode(JSON.stringify(message))).catch(() => {
      // the stream's close handler removes it; nothing else to do
    })
  }
  const broadcast = (message, exceptPeer) => {
    for (const [peer, subscriptions] of subscribers) {
      if (peer === exceptPeer) continue
      for (const lp of subscriptions) sendTo(lp, message)
    }
  }
  /** lists or unlists a peer to match its subscriptions and reservation, telling the others */
  const reconcile = (peer) => {
    const shouldList = subscribers.has(peer) && reserved(peer)
    if (shouldList === listed.has(peer)) return
    if (shouldList) {
      listed.add(peer)
      broadcast({ join: peer }, peer)
      hooks.onJoin?.(peer)
    } else {
      listed.delete(peer)
      broadcast({ leave: peer })
      hooks.onLeave?.(peer)
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
    sendTo(lp, { peers: [...listed].filter(p => p !== peer), ...(copies > 0 && { copies }) })
    reconcile(peer)

    let gone = false
    const leave = () => {
      if (gone) return
      gone = true
      subscriptions.delete(lp)
      connectionOf.delete(lp)
      if (subscriptions.size === 0 && subscribers.get(peer) === subscriptions) {
        subscribers.delete(peer)
        reconcile(peer)
      }
    }
    stream.addEventListener('close', leave)
    // The subscriber never writes: its end of writing means it unsubscribed.
    stream.addEventListener('remoteCloseWrite', () => {
      leave()
      stream.close().catch(() => stream.abort(new Error('presence stream close failed')))
    })
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
    }
  }
}

/**
 * Peer side: subscribes to a relay's presence and reports what it says.
 * Resolves when the subscription ends (relay gone or signal aborted); the
 * caller then treats every peer learned from this relay as gone.
 * @param {import('@libp2p/interface').Libp2p} node
 * @param {import('@libp2p/interface').PeerId} relay
 * @param {{onPeers: (peers: string[]) => void, onJoin: (peer: string) => void,
 *          onLeave: (peer: string) => void, onSubscribed?: () => void,
 *          onDuplicate?: (copies: number) => void, signal: AbortSignal}} handlers
 *   onDuplicate: the relay says our peer ID is already present over other
 *   connections; the subscription ends at once (nothing else is reported)
 */
export async function subscribePresence (node, relay, handlers) {
  const { signal } = handlers
  const stream = await node.dialProtocol(relay, PRESENCE_PROTOCOL, { signal })
  const onAbort = () => stream.abort(new Error('presence subscription stopped'))
  signal.addEventListener('abort', onAbort, { once: true })
  try {
    // We never write, and must not half-close either: the relay reads the end
    // of our writing as "unsubscribed".
    const lp = lpStream(stream, { maxDataLength: MAX_PRESENCE_MESSAGE_BYTES })
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
