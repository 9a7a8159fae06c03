/**
 * What we know about one relay without asking anything Hearth-specific:
 * which of Hearth's extras it offers (from identify's protocol list, which
 * every libp2p relay sends), and when our reservation on it is gone (the
 * connection closed). This is what lets any circuit relay v2 node — go-,
 * rust- or js-libp2p — carry a Hearth peer: being online needs a reservation
 * and nothing else.
 */
import { MAILBOX_PROTOCOL, PRESENCE_PROTOCOL, ROUTING_PROTOCOL } from './constants.js'

/** Hearth's extras a relay may offer, by the name status reports them under. */
export const EXTRAS = Object.freeze({ presence: PRESENCE_PROTOCOL, mailbox: MAILBOX_PROTOCOL, routing: ROUTING_PROTOCOL })

/**
 * The extras a relay offers, from the protocols it lists in identify. libp2p
 * identifies every new connection by itself, but that may still be under way
 * when the reservation is made, so we ask once more on the relay connection:
 * one small exchange per reservation.
 * @param {import('@libp2p/interface').Libp2p} node with an `identify` service
 * @param {import('@libp2p/interface').PeerId} relay
 * @param {{signal: AbortSignal}} options
 * @returns {Promise<Array<keyof typeof EXTRAS>>} the offered extras, in EXTRAS order
 */
export async function relayOffers (node, relay, { signal }) {
  const connection = node.getConnections(relay)[0]
  if (connection == null) return []
  const { protocols } = await node.services.identify.identify(connection, { signal })
  return Object.entries(EXTRAS).filter(([, protocol]) => protocols.includes(protocol)).map(([name]) => name)
}

/**
 * Resolves once our reservation on the relay is gone: no connection to it
 * remains, or our addresses no longer go through it; or once signal aborts.
 * @param {import('@libp2p/interface').Libp2p} node
 * @param {import('@libp2p/interface').PeerId} relay
 * @param {() => boolean} reserved whether our addresses still go through the relay
 * @param {AbortSignal} signal
 */
export function reservationLost (node, relay, reserved, signal) {
  return new Promise(resolve => {
    const check = () => {
      if (signal.aborted || node.getConnections(relay).length === 0 || !reserved()) done()
    }
    const done = () => {
      node.removeEventListener('peer:disconnect', check)
      node.removeEventListener('self:peer:update', check)
      signal.removeEventListener('abort', done)
      resolve()
    }
    node.addEventListener('peer:disconnect', check)
    node.addEventListener('self:peer:update', check)
    signal.addEventListener('abort', done, { once: true })
    check()
  })
}
