/**
 * Direct links: the service worker's side of WebRTC between browsers.
 *
 * The worker has the libp2p node (and Go) but no RTCPeerConnection; one page
 * hosts the connections for it (host.js, over rpc.js). This module decides
 * when to link, signals over the relay (SIGNAL_PROTOCOL), and sends a
 * federation request over a link when one is open, else through the relay.
 * The relay thus carries only signalling between two browsers that can
 * reach each other, and everything when they cannot.
 *
 * A link is tried on the first request to a peer (not for every peer on the
 * relay: most never talk). A failed try is not repeated for RETRY_MS, and a
 * peer that does not speak the signalling protocol (a headless Node peer) is
 * left alone for NOT_SUPPORTED_RETRY_MS. Glare (both offer at once): a link
 * offered by the smaller peer ID wins, connecting or already open, so a late
 * offer of the other side cannot replace the link both just agreed on; the
 * smaller side's offers replace whatever link the larger side has (that is
 * how it reconnects).
 */
import { SIGNAL_PROTOCOL } from '../constants.js'
import { readMessage, writeMessage } from '../framing.js'
import { connectPort } from './rpc.js'

const RETRY_MS = 30_000
const NOT_SUPPORTED_RETRY_MS = 10 * 60_000
/** ms for the whole signalling exchange (the answerer gathers ICE candidates meanwhile). */
const SIGNAL_TIMEOUT_MS = 15_000
/** Links at once: each is an RTCPeerConnection in the hosting page, and peers may ask. */
const MAX_LINKS = 32

/**
 * @param {object} options
 * @param {string} options.selfId our peer ID
 * @param {{dial: Function, roundTrip: Function}} options.p2p the relay path (index.js facade)
 * @param {(head: object, body: Uint8Array) => Promise<object>} options.serve Go's serve
 * @param {() => void} [options.onChange] the set of open links changed
 * @param {{info?: Function, warn?: Function}} [options.logger]
 */
export function createDirectLinks ({ selfId, p2p, serve, onChange = () => {}, logger = console }) {
  /** the page hosting our connections (rpc.js connection), or null */
  let host = null
  /** peerId → {id, state: 'connecting'|'open', offering} */
  const links = new Map()
  /** peerId → ms epoch before which no new try is made */
  const retryAt = new Map()
  let nextLinkId = 1
  let stopped = false

  const newId = () => `${selfId.slice(-8)}-${Date.now().toString(36)}-${nextLinkId++}`

  const drop = (peerId, link, why) => {
    if (links.get(peerId) !== link) return
    links.delete(peerId)
    host?.call('close', [link.id]).catch(() => {})
    if (link.state === 'open') {
      logger.info?.(`p2p: direct link to ${peerId} closed (${why})`)
      onChange()
    }
  }

  const onHostState = (linkId, peerId, state) => {
    const link = links.get(peerId)
    if (link?.id !== linkId) return // an old or superseded link
    if (state === 'open' && link.state !== 'open') {
      link.state = 'open'
      retryAt.delete(peerId)
      logger.info?.(`p2p: direct link to ${peerId} open`)
      onChange()
    } else if (state === 'closed') {
      drop(peerId, link, 'the connection ended')
    }
  }

  const hostGone = () => {
    host = null
    const had = [...links.values()].some(l => l.state === 'open')
    links.clear()
    if (had) onChange()
  }

  /** Offers a link to peerId; never throws (the relay keeps working either way). */
  const connect = async (peerId) => {
    if (host === null || stopped || links.has(peerId) || links.size >= MAX_LINKS ||
        (retryAt.get(peerId) ?? 0) > Date.now()) return
    const link = { id: newId(), state: 'connecting', offering: true }
    links.set(peerId, link)
    const through = host
    try {
      const offerSdp = await through.call('offer', [link.id, peerId])
      const signal = AbortSignal.timeout(SIGNAL_TIMEOUT_MS)
      let stream
      try {
        stream = await p2p.dial(peerId, SIGNAL_PROTOCOL, { signal })
      } catch (err) {
        err.notSupported = err.cause?.name === 'UnsupportedProtocolError' || /protocol/i.test(err.message)
        throw err
      }
      await writeMessage(stream, JSON.stringify({ sdp: offerSdp }), null, { signal })
      const reply = parseSignal((await readMessage(stream, { signal })).head)
      if (reply.error) throw new Error(`the peer declined: ${reply.error}`)
      if (links.get(peerId) !== link) return // superseded by the peer's own offer
      await through.call('complete', [link.id, reply.sdp])
    } catch (err) {
      if (links.get(peerId) !== link) return
      retryAt.set(peerId, Date.now() + (err.notSupported ? NOT_SUPPORTED_RETRY_MS : RETRY_MS))
      logger.info?.(`p2p: no direct link to ${peerId}, using the relay: ${err.message}`)
      drop(peerId, link, err.message)
    }
  }

  return {
    /**
     * Takes a page's port as the host of our connections, replacing any
     * previous one (whose links end with it).
     * @param {MessagePort} port
     */
    setHost (port) {
      host?.close()
      hostGone()
      const connection = connectPort(port, {
        serve: (head, body) => serve(head, body),
        state: onHostState
      }, {
        onClose: () => { if (host === connection) hostGone() }
      })
      host = connection
      retryAt.clear() // a new page may succeed where the last one failed
      logger.info?.('p2p: a page hosts direct WebRTC links')
    },

    /** Peers with an open direct link. */
    connected () {
      return [...links].filter(([, l]) => l.state === 'open').map(([peerId]) => peerId)
    },

    /**
     * A federation request: over the direct link when open, else through the
     * relay (and a link is tried for next time).
     */
    async roundTrip (peerId, request, opts = {}) {
      const link = links.get(peerId)
      if (link?.state === 'open' && host !== null) {
        try {
          return await host.call('roundTrip', [peerId, request], { signal: opts.signal })
        } catch (err) {
          // Only a link that could not carry the request falls back: one that
          // failed mid-request reports that, as the relay path would.
          if (err.name !== 'DirectUnavailableError' && err.name !== 'PortClosedError') throw err
          drop(peerId, link, err.message)
        }
        return p2p.roundTrip(peerId, request, opts)
      }
      try {
        return await p2p.roundTrip(peerId, request, opts)
      } finally {
        // Afterwards, so the signalling reuses the relayed connection this
        // request opened instead of racing it with a second dial.
        connect(peerId)
      }
    },

    /** Answers a peer's offer (the SIGNAL_PROTOCOL handler). */
    async answerSignal (stream, connection) {
      const from = connection.remotePeer.toString()
      const signal = AbortSignal.timeout(SIGNAL_TIMEOUT_MS)
      const reply = (body) => writeMessage(stream, JSON.stringify(body), null, { signal })
      try {
        const offer = parseSignal((await readMessage(stream, { signal })).head)
        if (!offer.sdp) return await reply({ error: 'expected an offer' })
        if (host === null || stopped) return await reply({ error: 'no page hosts WebRTC here' })
        const existing = links.get(from)
        if (existing?.offering && selfId < from) {
          return await reply({ error: 'glare: our offer wins' })
        }
        if (existing) drop(from, existing, 'replaced by a new offer from the peer')
        else if (links.size >= MAX_LINKS) return await reply({ error: 'too many direct links here' })
        const link = { id: newId(), state: 'connecting', offering: false }
        links.set(from, link)
        try {
          await reply({ sdp: await host.call('accept', [link.id, from, offer.sdp]) })
        } catch (err) {
          drop(from, link, err.message)
          throw err
        }
      } catch (err) {
        logger.warn?.(`p2p: signalling with ${from} failed: ${err.message}`)
        stream.abort(err instanceof Error ? err : new Error(String(err)))
      }
    },

    stop () {
      stopped = true
      host?.close()
      hostGone()
    }
  }
}

function parseSignal (text) {
  const message = JSON.parse(text)
  if (message === null || typeof message !== 'object') throw new Error('signal is not an object')
  if (message.sdp !== undefined && typeof message.sdp !== 'string') throw new Error('sdp is not a string')
  if (message.error !== undefined && typeof message.error !== 'string') throw new Error('error is not a string')
  return message
}
