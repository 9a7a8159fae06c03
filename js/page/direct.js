/**
 * This tab hosts the worker's direct WebRTC links, if no other tab does.
 *
 * The worker signals over the relay and decides when to link; the tab holds
 * the RTCPeerConnections (js/p2p/direct/host.js), which workers cannot. A Web
 * Lock picks one tab per origin: when it closes, the next tab takes over
 * (its links start afresh; until then federation goes through the relay).
 * Every new worker life gets the port again, since the old one died with it.
 */
import { connectPort } from '../p2p/direct/rpc.js'
import { createDirectHost } from '../p2p/direct/host.js'

const HOST_LOCK = 'hearth-direct-host'

/**
 * @param {{sendPort: (port: MessagePort) => void, configURL?: string}} options sendPort
 *   posts MSG.directHost with the port to the controlling worker
 * @returns {{workerStatus: (status: object) => void}} feed it every worker status
 */
export function hostDirectLinks ({ sendPort, configURL = '/config.json' }) {
  let worker = null // rpc connection to the current worker life
  let host = null // set once this tab holds the host lock
  let life = null

  const register = () => {
    worker?.close()
    host.closeAll() // links of an earlier worker life: it no longer knows them
    const { port1, port2 } = new MessageChannel()
    const connection = connectPort(port1, {
      offer: (linkId, peerId) => host.offer(linkId, peerId),
      accept: (linkId, peerId, sdp) => host.accept(linkId, peerId, sdp),
      complete: (linkId, sdp) => host.complete(linkId, sdp),
      roundTrip: (peerId, request) => host.roundTrip(peerId, request),
      close: (linkId) => host.close(linkId)
    }, {
      onClose: () => { if (worker === connection) host.closeAll() }
    })
    worker = connection
    sendPort(port2)
  }

  const start = async () => {
    if (typeof RTCPeerConnection !== 'function' || !navigator.locks) return
    await navigator.locks.request(HOST_LOCK, async () => {
      host = createDirectHost({
        iceServers: await iceServers(configURL),
        serve: (head, body) => worker.call('serve', [head, body]),
        onState: (linkId, peerId, state) => { worker?.call('state', [linkId, peerId, state]).catch(() => {}) }
      })
      if (life !== null) register()
      addEventListener('pagehide', () => {
        worker?.close()
        host.closeAll()
      })
      await new Promise(() => {}) // held while this tab lives
    })
  }
  start().catch((err) => console.warn('hearth: cannot host direct links; federation stays on the relay:', err))

  return {
    workerStatus (status) {
      if (status.life === undefined || status.life === life) return
      life = status.life
      if (host !== null) register()
    }
  }
}

/** STUN/TURN servers a deployer listed in config.json (none: direct links only where host addresses reach). */
async function iceServers (configURL) {
  try {
    const res = await fetch(configURL, { cache: 'no-store' })
    const config = await res.json()
    return Array.isArray(config.iceServers) ? config.iceServers : []
  } catch {
    return []
  }
}
