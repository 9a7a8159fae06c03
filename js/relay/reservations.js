/**
 * Tells when a peer's reservation on the relay appears or goes away, so
 * presence can list exactly the peers that are dialable (issue 11, defect 7).
 *
 * circuit-relay-v2 4.2 emits no event for either: a reservation is made,
 * refreshed, expired and (limits.js) freed by writing its public
 * `reservations` map. Watching that map's writes is the one place all four
 * pass through.
 */

/**
 * @param {import('@libp2p/circuit-relay-v2').CircuitRelayService} relay
 * @param {(peerId: string) => void} onChange called after a peer's entry was
 *   set or deleted (also on a refresh: callers compare with what they knew)
 * @returns {() => void} stops watching
 */
export function watchReservations (relay, onChange) {
  const store = relay.reservations
  const { set, delete: remove, clear } = store
  store.set = function (peer, reservation) {
    const result = set.call(this, peer, reservation)
    onChange(peer.toString())
    return result
  }
  store.delete = function (peer) {
    const deleted = remove.call(this, peer)
    if (deleted) onChange(peer.toString())
    return deleted
  }
  store.clear = function () {
    const peers = [...this.keys()]
    clear.call(this)
    for (const peer of peers) onChange(peer.toString())
  }
  return () => {
    store.set = set
    store.delete = remove
    store.clear = clear
  }
}
