/**
 * The relay's per-IP and per-peer limits, and freeing a reservation when its
 * peer leaves (issue 11, defect 2). libp2p bounds only totals and a per-IP
 * connection rate, and keeps a reservation until it expires (2 h) even when
 * its peer is gone: one host with throwaway keys could take every slot and
 * disconnect, and honest peers were refused until the slots expired.
 *
 * Rules, enforced here through libp2p's connection gater:
 * - a new connection is refused when its IP already has maxConnectionsPerIp
 *   open, or (once noise says who it is) its peer has maxConnectionsPerPeer;
 * - a new reservation is refused when its peer's IP already holds
 *   maxReservationsPerIp (refreshing one's own reservation is always allowed);
 * - a reservation is removed when its peer's last connection closes.
 * An IPv4 address is one IP; IPv6 is counted per /64, the block one host
 * usually gets. Behind a reverse proxy every peer has the proxy's IP: raise
 * the per-IP limits there. Counts are of open connections: handshakes still
 * in flight are not counted (maxPendingConnections bounds those), so one peer
 * opening many at once can overshoot by the few that finish together.
 */

/**
 * @param {{maxConnectionsPerIp: number, maxConnectionsPerPeer: number, maxReservationsPerIp: number}} limits
 * @returns {{connectionGater: import('@libp2p/interface').ConnectionGater,
 *            start: (node: import('@libp2p/interface').Libp2p, relay: import('@libp2p/circuit-relay-v2').CircuitRelayService) => void,
 *            stop: () => void}}
 *   pass connectionGater to createLibp2p, then start with the node and its relay
 *   service. Until start the gater allows everything (nothing is open yet).
 */
export function relayLimits (limits) {
  /** @type {import('@libp2p/interface').Libp2p | null} */
  let node = null
  /** @type {import('@libp2p/circuit-relay-v2').CircuitRelayService | null} */
  let relay = null

  const connectionsFrom = ip => node.getConnections().filter(c => ipOf(c.remoteAddr) === ip).length

  const onDisconnect = evt => {
    const peer = evt.detail
    const reservation = relay.reservations.get(peer)
    if (reservation == null) return
    // circuit-relay-v2 4.2 has no public way to cancel a reservation; its
    // public `reservations` map is the store itself (deleting frees the slot
    // at once). The entry's expiry timer would still fire later and delete by
    // peer ID, so it would drop a newer reservation the same peer made after
    // reconnecting: firing it now (reset(0) is the store's own expiry path)
    // retires it, as its AbortSignal aborts only once.
    relay.reservations.delete(peer)
    reservation.signal.reset(0)
  }

  return {
    connectionGater: {
      denyInboundConnection (maConn) {
        if (node == null) return false
        const ip = ipOf(maConn.remoteAddr)
        return ip != null && connectionsFrom(ip) >= limits.maxConnectionsPerIp
      },
      denyInboundEncryptedConnection (peer) {
        return node != null && node.getConnections(peer).length >= limits.maxConnectionsPerPeer
      },
      denyInboundRelayReservation (peer) {
        if (node == null || relay.reservations.has(peer)) return false
        // the store records the connection's address with the reservation
        const ips = new Set(node.getConnections(peer).map(c => ipOf(c.remoteAddr)).filter(ip => ip != null))
        if (ips.size === 0) return true // gone already, or not over IP
        const held = new Map()
        for (const { addr } of relay.reservations.values()) {
          const ip = ipOf(addr)
          held.set(ip, (held.get(ip) ?? 0) + 1)
        }
        return [...ips].some(ip => (held.get(ip) ?? 0) >= limits.maxReservationsPerIp)
      }
    },

    start (libp2p, relayService) {
      node = libp2p
      relay = relayService
      node.addEventListener('peer:disconnect', onDisconnect)
    },

    stop () {
      node?.removeEventListener('peer:disconnect', onDisconnect)
      node = null
      relay = null
    }
  }
}

/**
 * The IP a limit counts for an address: the IPv4 address, or an IPv6 address's
 * /64 prefix; undefined for addresses without an IP (relayed ones).
 * @param {import('@multiformats/multiaddr').Multiaddr} addr
 * @returns {string | undefined}
 */
export function ipOf (addr) {
  const part = addr.getComponents().find(c => c.name === 'ip4' || c.name === 'ip6')
  if (part == null) return undefined
  if (part.name === 'ip4') return part.value
  const groups = expandIPv6(part.value)
  if (groups.slice(0, 5).every(g => g === 0) && groups[5] === 0xffff) {
    return [groups[6] >> 8, groups[6] & 0xff, groups[7] >> 8, groups[7] & 0xff].join('.') // IPv4-mapped
  }
  return groups.slice(0, 4).map(g => g.toString(16)).join(':') + '::/64'
}

/** @param {string} ip IPv6 text, `::` and a trailing dotted IPv4 allowed @returns {number[]} its 8 groups */
function expandIPv6 (ip) {
  const split = text => text === '' ? [] : text.split(':').flatMap(g => {
    if (!g.includes('.')) return [parseInt(g, 16)]
    const [a, b, c, d] = g.split('.').map(Number)
    return [(a << 8) | b, (c << 8) | d]
  })
  const [head, tail] = ip.split('::')
  const left = split(head)
  const right = tail == null ? [] : split(tail)
  return [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill(0), ...right]
}
