/**
 * Relays linked into one network (issue 17): the relay's side of
 * ROUTING_PROTOCOL (wire: js/p2p/routing.js).
 *
 * A relay started with RELAY_PEERS dials each of those relays and says
 * "link" with its own addresses; the other relay links back (it dials the
 * announced addresses, so noise proves who they belong to) and both answer
 * with the relays they are linked with, and again every few seconds, so a
 * chain of RELAY_PEERS becomes a full mesh whatever order the relays start in. A link is kept while its connection is open and redialed with
 * backoff when it closes; only relays we are connected to now are given to
 * peers, so a dead relay stops being offered at once.
 *
 * What a relay answers:
 * - "relays": the linked relays now up (a peer given one relay learns the others);
 * - "find X": which relays hold a reservation for X and which keep a mailbox
 *   for X: this one from its own tables, the linked ones by asking each of them
 *   at once (they answer for themselves only), so a lookup is two round trips.
 *
 * Trust: any libp2p node that can be dialed back may link (at most MAX_LINKS),
 * and is then offered to peers as a relay; one we were told of and cannot
 * reach for FORGET_AFTER_MS is forgotten (RELAY_PEERS are redialed for ever). Relays of one community are run
 * by people who trust each other; an open network of strangers' relays
 * would need a DHT and a reputation, which this does not try to be.
 */
import { peerIdFromString } from '@libp2p/peer-id'
import { DEFAULTS } from '../p2p/constants.js'
import { askRouting, relayAddrsFrom, relayIdOf, serveRouting } from '../p2p/routing.js'
import { sleep } from '../p2p/waiting.js'

/** Most relays one relay links with: each lookup asks all of them. */
export const MAX_LINKS = 32

const LINK_RETRY_MIN = 500
const LINK_RETRY_MAX = 10_000
/** ms a relay we were told of (not one of RELAY_PEERS) may stay unreachable before it is forgotten */
const FORGET_AFTER_MS = 60_000
/** ms between "link" requests on a live link: how soon relays linked elsewhere are learned */
const LINK_REFRESH_MS = 5_000

/**
 * @param {import('@libp2p/interface').Libp2p} node the relay's node, started
 * @param {object} options
 * @param {string[]} [options.peers] multiaddrs of relays to link with (RELAY_PEERS)
 * @param {(peer: string) => boolean} options.reserved whether a peer holds a reservation here
 * @param {(peer: string) => boolean} [options.keepsMailFor] whether this relay's mailbox keeps mail for a peer
 * @param {number} [options.lookupTimeout] ms to wait for linked relays' answers to a lookup
 * @param {{info?: Function, warn?: Function, debug?: Function}} [options.logger]
 * @returns {Promise<{linked: () => string[], lookups: () => number, stop: () => void}>}
 *   linked: the addresses of the linked relays up now; lookups: "find" requests answered
 */
export async function linkRelays (node, options) {
  const logger = options.logger ?? {}
  const lookupTimeout = options.lookupTimeout ?? DEFAULTS.lookupTimeout
  const self = node.peerId.toString()
  const lifetime = new AbortController()
  /** relay peer ID → {addrs, up} for every relay we link (or try to link) with */
  const links = new Map()
  let lookups = 0

  const ownAddrs = () => node.getMultiaddrs().map(String)
  const isUp = (id, link) => link.up && node.getConnections(peerIdFromString(id)).length > 0
  const linkedAddrs = (except) => {
    const addrs = []
    for (const [id, link] of links) if (id !== except && isUp(id, link)) addrs.push(...link.addrs.map(String))
    return addrs
  }

  const ensureLink = (addrs, configured = false) => {
    const id = relayIdOf(addrs[0])
    if (id == null || id === self || lifetime.signal.aborted) return
    const known = links.get(id)
    if (known != null) return
    if (links.size >= MAX_LINKS) {
      logger.warn?.(`relay: not linking with ${id}: already linked with ${MAX_LINKS} relays`)
      return
    }
    const link = { addrs: addrs.filter(ma => relayIdOf(ma) === id), up: false, configured, downSince: Date.now() }
    links.set(id, link)
    keepLink(id, link).catch(err => logger.warn?.(`relay: link with ${id} ended: ${err.message}`))
  }

  /** Holds the link with one relay: link, wait for its connection to close, link again. */
  async function keepLink (id, link) {
    const signal = lifetime.signal
    let delay = LINK_RETRY_MIN
    while (!signal.aborted) {
      try {
        const answer = await askRouting(node, link.addrs, { op: 'link', addrs: ownAddrs() },
          { signal: AbortSignal.any([signal, AbortSignal.timeout(DEFAULTS.dialTimeout)]) })
        if (!link.up) logger.info?.(`relay: linked with relay ${id}`)
        link.up = true
        delay = LINK_RETRY_MIN
        for (const ma of relayAddrsFrom(answer.relays)) ensureLink([ma])
        // say "link" again now and then: the answer carries relays linked since
        while (!(await disconnected(node, id, AbortSignal.any([signal, AbortSignal.timeout(LINK_REFRESH_MS)])))) {
          if (signal.aborted) break
          const again = await askRouting(node, link.addrs, { op: 'link', addrs: ownAddrs() },
            { signal: AbortSignal.any([signal, AbortSignal.timeout(DEFAULTS.dialTimeout)]) })
          for (const ma of relayAddrsFrom(again.relays)) ensureLink([ma])
        }
        if (!signal.aborted) logger.warn?.(`relay: lost the link with relay ${id}, redialing`)
      } catch (err) {
        if (signal.aborted) break
        if (link.up) logger.warn?.(`relay: link with relay ${id} failed: ${err.message}`)
      }
      if (link.up) link.downSince = Date.now()
      link.up = false
      // one we were told of (not in RELAY_PEERS) and cannot reach for a while is forgotten
      if (!link.configured && Date.now() - link.downSince > FORGET_AFTER_MS) {
        links.delete(id)
        logger.info?.(`relay: forgot relay ${id}: unreachable for ${FORGET_AFTER_MS / 1000} s`)
        return
      }
      await sleep(delay, signal)
      delay = Math.min(delay * 2, LINK_RETRY_MAX)
    }
  }

  const local = (peer) => ({
    reserved: options.reserved(peer) ? ownAddrs() : [],
    mailbox: options.keepsMailFor?.(peer) ? ownAddrs() : []
  })

  async function find (peer, from) {
    try {
      peerIdFromString(peer)
    } catch {
      throw new Error('find: peer must be a peer ID')
    }
    lookups++
    const here = local(peer)
    // A linked relay asking answers for itself only: a lookup is one hop between relays.
    if (links.has(from)) return here
    const signal = AbortSignal.any([lifetime.signal, AbortSignal.timeout(lookupTimeout)])
    const asked = [...links].filter(([id, link]) => isUp(id, link))
    const answers = await Promise.allSettled(asked.map(([, link]) =>
      askRouting(node, link.addrs, { op: 'find', peer }, { signal })))
    const reserved = new Set(here.reserved)
    const mailbox = new Set(here.mailbox)
    for (const [i, result] of answers.entries()) {
      if (result.status !== 'fulfilled') continue
      const id = asked[i][0]
      // a relay answers for itself: addresses of others in its answer are dropped
      for (const ma of relayAddrsFrom(result.value.reserved)) if (relayIdOf(ma) === id) reserved.add(ma.toString())
      for (const ma of relayAddrsFrom(result.value.mailbox)) if (relayIdOf(ma) === id) mailbox.add(ma.toString())
    }
    return { reserved: [...reserved], mailbox: [...mailbox] }
  }

  await serveRouting(node, async (message, remotePeer) => {
    const from = remotePeer.toString()
    switch (message.op) {
      case 'relays':
        return { relays: linkedAddrs(from) }
      case 'find':
        return find(message.peer, from)
      case 'link': {
        const addrs = relayAddrsFrom(message.addrs).filter(ma => relayIdOf(ma) === from)
        if (addrs.length === 0) throw new Error('link: addrs must be the linking relay\'s own addresses')
        ensureLink(addrs)
        return { relays: linkedAddrs(from) }
      }
      default:
        throw new Error(`unknown op ${JSON.stringify(String(message.op).slice(0, 40))}`)
    }
  }, { timeoutMs: DEFAULTS.dialTimeout + lookupTimeout, logger })

  for (const addr of options.peers ?? []) {
    const addrs = relayAddrsFrom([addr])
    if (addrs.length === 0) throw new TypeError(`RELAY_PEERS: ${addr} is not a relay multiaddr ending in /p2p/<peer ID>`)
    ensureLink(addrs, true)
  }

  return {
    linked: () => linkedAddrs(),
    lookups: () => lookups,
    stop: () => lifetime.abort()
  }
}

/**
 * Resolves true once no connection to relay `id` remains, false if signal
 * aborts first.
 */
function disconnected (node, id, signal) {
  return new Promise(resolve => {
    const gone = () => node.getConnections(peerIdFromString(id)).length === 0
    const check = () => {
      if (signal.aborted || gone()) done()
    }
    const done = () => {
      node.removeEventListener('peer:disconnect', check)
      signal.removeEventListener('abort', done)
      resolve(gone())
    }
    node.addEventListener('peer:disconnect', check)
    signal.addEventListener('abort', done, { once: true })
    check()
  })
}
