/**
 * The page's half of direct links: RTCPeerConnections, which a service
 * worker cannot create. The worker's libp2p node does the signalling over the
 * relay (links.js) and calls these methods through a MessagePort (rpc.js);
 * the page only moves SDP and bytes. One tab per origin hosts (a Web Lock in
 * js/page/direct.js), so one server has one set of links.
 *
 * Links are named by an id the worker chooses, not by peer: during a glare
 * (both sides offering at once) or a reconnect, an old and a new connection
 * to the same peer briefly coexist, and each must be closed on its own.
 *
 * Each connection has a control channel ("hearth-control", made by the
 * offerer): its opening means the link works; its closing, or the connection
 * failing, means the link is gone. Every request opens its own channel.
 */
import { DEFAULTS } from '../constants.js'
import { ask, answer } from '../exchange.js'
import { channelStream } from './channel.js'
import { createInFlightBudget } from '../inflight.js'

const CONTROL_LABEL = 'hearth-control'
/** ms to gather ICE candidates before sending the SDP with what we have. */
const GATHER_TIMEOUT_MS = 3000
/** Request channels per link and direction: requests in flight at once, as for relayed streams (index.js). */
const MAX_REQUEST_CHANNELS = 64
/** ms from answer to a working link; ICE checks on a LAN take tens of ms. */
const CONNECT_TIMEOUT_MS = 10000

/** No working link to that peer (never made, failed or closed): use the relay. */
export class DirectUnavailableError extends Error {
  constructor (message, options) {
    super(message, options)
    this.name = 'DirectUnavailableError'
  }
}

/**
 * @param {object} options
 * @param {RTCIceServer[]} [options.iceServers] from config.json (STUN/TURN for peers behind NAT)
 * @param {(head: object, body: Uint8Array) => Promise<object>} options.serve answers an incoming
 *   request (the worker's Go); head.peer is already set to the link's peer
 * @param {(linkId: string, peerId: string, state: 'open'|'closed') => void} options.onState
 * @param {{info?: Function, warn?: Function}} [options.logger]
 * @param {typeof RTCPeerConnection} [options.RTCPeerConnection]
 */
export function createDirectHost ({ iceServers = [], serve, onState, logger = console, RTCPeerConnection = globalThis.RTCPeerConnection }) {
  if (typeof RTCPeerConnection !== 'function') throw new DirectUnavailableError('this browser has no WebRTC')
  /** linkId → {id, peerId, pc, state, opened: settles once open or closed, request channels (inbound, idle, outbound, waiting)} */
  const links = new Map()
  /** bytes of incoming requests in flight per peer, over all its links */
  const budget = createInFlightBudget()

  const report = (link, state) => {
    if (link.state === state || link.state === 'closed') return
    link.state = state
    if (state === 'closed') {
      links.delete(link.id)
      link.pc.close()
      for (const waiter of link.waiting.splice(0)) waiter(null)
    }
    link.settle() // open or closed: nobody waits for a link that is decided
    onState(link.id, link.peerId, state)
  }

  /** A new connection; the offerer makes its control channel, the answerer gets it from the peer. */
  const create = (linkId, peerId, { offering }) => {
    if (links.has(linkId)) throw new TypeError(`link ${linkId} exists`)
    const pc = new RTCPeerConnection({ iceServers })
    const link = { id: linkId, peerId, pc, state: 'connecting', inbound: 0, idle: [], outbound: 0, waiting: [] }
    link.opened = new Promise((resolve) => { link.settle = resolve })
    const useControl = (channel) => {
      const open = () => report(link, 'open')
      if (channel.readyState === 'open') open()
      else channel.addEventListener('open', open, { once: true })
      channel.addEventListener('close', () => report(link, 'closed'))
    }
    pc.addEventListener('datachannel', ({ channel }) => {
      if (channel.label === CONTROL_LABEL) return useControl(channel)
      // Requests from the peer, one after another on this channel, each
      // answered like one from the relay, as that peer. The asker owns the
      // channel (it closes it on errors); an idle one just waits.
      const start = async () => {
        if (link.inbound >= MAX_REQUEST_CHANNELS) {
          logger.warn?.(`p2p: ${peerId} opened more than ${MAX_REQUEST_CHANNELS} request channels on its direct link; refusing another`)
          return channel.close()
        }
        link.inbound++
        const stream = channelStream(channel)
        try {
          while (await stream.readable()) {
            await answer(stream, peerId, {
              serve: (head, body, options) => serve(head, body, options),
              timeouts: { read: DEFAULTS.readTimeout, serve: DEFAULTS.serveTimeout },
              budget,
              logger
            })
          }
        } finally {
          link.inbound--
        }
      }
      if (channel.readyState === 'open') start()
      else channel.addEventListener('open', start, { once: true })
    })
    pc.addEventListener('connectionstatechange', () => {
      if (pc.connectionState === 'failed' || pc.connectionState === 'closed') report(link, 'closed')
    })
    if (offering) useControl(pc.createDataChannel(CONTROL_LABEL))
    links.set(linkId, link)
    return link
  }

  const withLink = async (linkId, fn) => {
    const link = links.get(linkId)
    if (link === undefined) throw new DirectUnavailableError(`no link ${linkId}`)
    try {
      return await fn(link)
    } catch (err) {
      report(link, 'closed')
      throw err
    }
  }

  const current = (peerId) => {
    for (const link of links.values()) if (link.peerId === peerId && link.state === 'open') return link
    return null
  }

  return {
    /** Starts a link as the offerer: returns the offer SDP, ICE candidates included. */
    async offer (linkId, peerId) {
      const link = create(linkId, peerId, { offering: true })
      return withLink(linkId, async () => {
        await link.pc.setLocalDescription()
        await gathered(link.pc)
        return link.pc.localDescription.sdp
      })
    },

    /** Answers a peer's offer: returns the answer SDP. The link opens when its control channel does. */
    async accept (linkId, peerId, offerSdp) {
      const link = create(linkId, peerId, { offering: false })
      return withLink(linkId, async () => {
        await link.pc.setRemoteDescription({ type: 'offer', sdp: offerSdp })
        await link.pc.setLocalDescription()
        await gathered(link.pc)
        timeoutLink(link)
        return link.pc.localDescription.sdp
      })
    },

    /** Applies the peer's answer and resolves once the link works. */
    async complete (linkId, answerSdp) {
      return withLink(linkId, async (link) => {
        await link.pc.setRemoteDescription({ type: 'answer', sdp: answerSdp })
        timeoutLink(link)
        await link.opened
        if (link.state !== 'open') throw new DirectUnavailableError(`link ${linkId} closed while connecting`)
      })
    },

    /** One federation request over the peer's open link, on an idle request channel or a new one. */
    async roundTrip (peerId, request) {
      const link = current(peerId)
      if (link === null) throw new DirectUnavailableError(`no direct link to ${peerId}`)
      const stream = await requestChannel(link)
      let ok = false
      try {
        const response = await ask(stream, request, { peerId, timeoutMs: DEFAULTS.requestTimeout })
        ok = true
        return response
      } finally {
        releaseChannel(link, ok ? stream : null)
      }
    },

    close (linkId) {
      const link = links.get(linkId)
      if (link) report(link, 'closed')
    },

    closeAll () {
      for (const link of [...links.values()]) report(link, 'closed')
    }
  }

  /** An idle request channel of the link, a new one, or the next one freed once MAX_REQUEST_CHANNELS are busy. */
  async function requestChannel (link) {
    while (true) {
      const idle = link.idle.pop()
      if (idle !== undefined) {
        if (idle.usable) return idle
        link.outbound--
        continue
      }
      if (link.state === 'closed') throw new DirectUnavailableError(`the direct link to ${link.peerId} closed`)
      if (link.outbound < MAX_REQUEST_CHANNELS) break
      const handed = await new Promise((resolve) => link.waiting.push(resolve))
      if (handed !== null) return handed
      // null: a slot came free, or the link closed; look again
    }
    link.outbound++
    const channel = link.pc.createDataChannel('hearth-request')
    try {
      await opened(channel)
    } catch (err) {
      link.outbound--
      report(link, 'closed')
      throw new DirectUnavailableError(`cannot open a channel to ${link.peerId}: ${err.message}`, { cause: err })
    }
    return channelStream(channel)
  }

  /** After an exchange: the channel goes to the next waiting request or idles; null means it broke. */
  function releaseChannel (link, stream) {
    const usable = stream !== null && stream.usable && link.state !== 'closed'
    if (!usable) link.outbound--
    const next = link.waiting.shift()
    if (next) next(usable ? stream : null)
    else if (usable) link.idle.push(stream)
  }

  function timeoutLink (link) {
    const timer = setTimeout(() => { if (link.state === 'connecting') report(link, 'closed') }, CONNECT_TIMEOUT_MS)
    link.opened.then(() => clearTimeout(timer))
  }
}

/** Resolves when ICE gathering is complete, or after GATHER_TIMEOUT_MS with what is there. */
function gathered (pc) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve()
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer)
      pc.removeEventListener('icegatheringstatechange', check)
      resolve()
    }
    const check = () => { if (pc.iceGatheringState === 'complete') done() }
    const timer = setTimeout(done, GATHER_TIMEOUT_MS)
    pc.addEventListener('icegatheringstatechange', check)
  })
}

function opened (channel) {
  if (channel.readyState === 'open') return Promise.resolve()
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error('data channel did not open')), DEFAULTS.dialTimeout)
    const ok = () => { clearTimeout(timer); channel.removeEventListener('close', closed); resolve() }
    const fail = (err) => { clearTimeout(timer); channel.removeEventListener('open', ok); reject(err) }
    const closed = () => fail(new Error('data channel closed before opening'))
    channel.addEventListener('open', ok, { once: true })
    channel.addEventListener('close', closed, { once: true })
  })
}
