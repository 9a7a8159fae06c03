/**
 * The hearthP2P global's value for a p2p node (shape documented in
 * js/bridge/globals.js and go/bridge/p2p_js.go). Install it with
 *   provide(GLOBALS.p2p, hearthP2P(p2p))
 * before the wasm starts; Go looks the global up per request, so it may also
 * come later (federation requests fail with ErrNoP2P until then).
 */
import { BRIDGE_VERSION, deliverMail, deliverNotice } from '../bridge/globals.js'
import { MailboxUnavailableError } from './errors.js'

/**
 * @param {{roundTrip: Function, peers: () => string[], watch?: (peerIds: string[]) => void, deposit?: Function}} p2p
 *   the node (index.js), or the direct links in front of it (direct/links.js); without
 *   deposit, every deposit is refused with MailboxUnavailableError
 * @returns {{version: number, roundTrip: Function, deposit: Function, peers: (watch?: string[]) => string[]}}
 *   peers(watch): the peers reachable of those watched; an array sets who is watched first
 */
export function hearthP2P (p2p) {
  return Object.freeze({
    version: BRIDGE_VERSION,
    roundTrip: (peerId, request, options) => p2p.roundTrip(peerId, request, options),
    deposit: async (peerId, ref, sealed, options) => {
      if (typeof p2p.deposit !== 'function') throw new MailboxUnavailableError('this p2p node keeps no mailboxes')
      return p2p.deposit(peerId, ref, sealed, options)
    },
    peers: (watch) => {
      if (Array.isArray(watch)) p2p.watch?.(watch.map(String))
      return p2p.peers()
    }
  })
}

/**
 * createP2P's onMail and onNotice for a node whose Go server runs in this
 * realm: mail and notices from our mailboxes go to Go (hearthMailbox); the
 * node hands them over one at a time and acks each once Go resolves.
 */
export const mailToGo = Object.freeze({
  onMail: ({ from, bytes }) => deliverMail(from, bytes),
  onNotice: ({ kind, to, ref }) => deliverNotice(kind, to, ref)
})
