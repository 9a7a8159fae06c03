/**
 * Finding peers across linked relays, the wire and the peer's side of
 * ROUTING_PROTOCOL (the relay's side: js/relay/links.js).
 *
 * Why not a DHT: a Hearth community runs a handful of relays that know each
 * other (RELAY_PEERS), and every peer is on one or two of them. Each relay
 * knows exactly who holds a reservation on it, so "where is peer X" is one
 * question to our relay, which asks its linked relays at once: two round
 * trips, whatever the number of peers, against log2(N) sequential hops for a
 * Kademlia lookup, and nothing to publish or refresh. It costs a relay one
 * small message per lookup per linked relay, which bounds it to communities
 * of tens of relays (README, "Several relays").
 *
 * Wire: one request, one answer per stream, each a length-prefixed (unsigned
 * varint) UTF-8 JSON object:
 *   {"op": "relays"}              → {"relays": ["/ip4/…/ws/p2p/12D3KooW…", …]}
 *     the relays this one is linked with now (itself left out)
 *   {"op": "find", "peer": "12D3KooW…"}
 *                                 → {"reserved": [relay addr, …], "mailbox": [relay addr, …]}
 *     the relays (this one and its linked ones) where the peer holds a
 *     reservation (dial it there through /p2p-circuit) and where it keeps a
 *     mailbox (mail for it can be left there)
 *   {"op": "link", "addrs": [own addr, …]}
 *                                 → {"relays": […]} (relays only: see links.js)
 *   anything refused              → {"error": "…"}
 * A relay asked "find" by a linked relay answers for itself only, so a lookup
 * never goes further than one hop between relays.
 */
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { MAX_ROUTING_MESSAGE_BYTES, ROUTING_PROTOCOL } from './constants.js'
import { P2PProtocolError } from './errors.js'

const encoder = new TextEncoder()
const decoder = new TextDecoder()

/** Most relay addresses one answer may carry (a community's relays, not a directory). */
export const MAX_ROUTING_ADDRS = 64

/**
 * Asks one routing question and returns the answer.
 * @param {import('@libp2p/interface').Libp2p} node
 * @param {import('@libp2p/interface').PeerId | import('@multiformats/multiaddr').Multiaddr[]} to
 * @param {object} message
 * @param {{signal: AbortSignal}} options
 * @returns {Promise<object>} the answer object
 * @throws {P2PProtocolError} the answer is not a JSON object, or says error
 */
export async function askRouting (node, to, message, { signal }) {
  const stream = await node.dialProtocol(to, ROUTING_PROTOCOL, { signal })
  try {
    const lp = lpStream(stream, { maxDataLength: MAX_ROUTING_MESSAGE_BYTES })
    await lp.write(encoder.encode(JSON.stringify(message)), { signal })
    const answer = parseRoutingMessage((await lp.read({ signal })).subarray())
    await stream.close({ signal }).catch(() => {})
    if (typeof answer.error === 'string') throw new P2PProtocolError(`routing: ${answer.error.slice(0, 200)}`)
    return answer
  } catch (err) {
    stream.abort(err instanceof Error ? err : new Error(String(err)))
    throw err
  }
}

/**
 * Answers ROUTING_PROTOCOL on a node: each request goes to `answer`, whose
 * result (or {error} when it throws) is written back.
 * @param {import('@libp2p/interface').Libp2p} node
 * @param {(message: object, from: import('@libp2p/interface').PeerId) => Promise<object>} answer
 * @param {{timeoutMs: number, logger?: {debug?: Function}}} options
 */
export async function serveRouting (node, answer, { timeoutMs, logger = {} }) {
  await node.handle(ROUTING_PROTOCOL, async (stream, connection) => {
    const signal = AbortSignal.timeout(timeoutMs)
    try {
      const lp = lpStream(stream, { maxDataLength: MAX_ROUTING_MESSAGE_BYTES })
      const message = parseRoutingMessage((await lp.read({ signal })).subarray())
      let reply
      try {
        reply = await answer(message, connection.remotePeer)
      } catch (err) {
        reply = { error: err.message }
      }
      await lp.write(encoder.encode(JSON.stringify(reply)), { signal })
      await stream.close({ signal })
    } catch (err) {
      logger.debug?.(`relay: routing request from ${connection.remotePeer} failed: ${err.message}`)
      stream.abort(err instanceof Error ? err : new Error(String(err)))
    }
  }, { maxInboundStreams: 32 })
}

/**
 * @param {Uint8Array} bytes
 * @returns {object}
 * @throws {P2PProtocolError} not a JSON object
 */
export function parseRoutingMessage (bytes) {
  try {
    const message = JSON.parse(decoder.decode(bytes))
    if (message === null || typeof message !== 'object' || Array.isArray(message)) throw new Error('not an object')
    return message
  } catch (err) {
    throw new P2PProtocolError(`bad routing message: ${err.message}`, { cause: err })
  }
}

/**
 * The relay addresses in a list from the wire: each must parse and end in
 * /p2p/<peer ID>; others are left out, as is anything past MAX_ROUTING_ADDRS.
 * @param {unknown} list
 * @returns {import('@multiformats/multiaddr').Multiaddr[]}
 */
export function relayAddrsFrom (list) {
  if (!Array.isArray(list)) return []
  const addrs = []
  for (const item of list.slice(0, MAX_ROUTING_ADDRS)) {
    if (typeof item !== 'string' || item.length > 400) continue
    try {
      const ma = multiaddr(item)
      const parts = ma.getComponents()
      if (parts.at(-1)?.name !== 'p2p' || parts.some(c => c.name === 'p2p-circuit')) continue
      addrs.push(ma)
    } catch {
      // not a multiaddr: skip it
    }
  }
  return addrs
}

/** The peer ID string a relay address ends in. */
export function relayIdOf (ma) {
  return ma.getComponents().findLast(c => c.name === 'p2p')?.value
}
