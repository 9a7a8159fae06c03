/**
 * The flooding peer of bench/relay-flood.js and the peers it floods, in a
 * process of their own: the flood's bytes are then carried by the relay
 * alone, and neither its sending nor its receiving slows the measured peers'
 * process. One Hearth peer keeps IN_FLIGHT federation requests of BODY bytes
 * going to TARGETS peers through the relay until told to stop, then reports
 * what it got through.
 *
 * Parent → child (IPC): {relay, targets: number, inFlight, bodyBytes}, then 'stop'.
 * Child → parent: {ready: true}, then {sent, ok, refused, failed, bytes}.
 */
import '../js/p2p/node-env.js'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { createP2P } from '../js/p2p/index.js'

process.once('message', async ({ relay, targets, inFlight, bodyBytes }) => {
  const peer = async () => createP2P({
    privateKey: (await generateKeyPair('Ed25519')).raw,
    relayAddrs: [relay],
    serve: async () => ({ status: 200, headers: [], body: new Uint8Array(0) })
  })
  const flooder = await peer()
  const flooded = await Promise.all(Array.from({ length: targets }, peer))
  await Promise.all([flooder, ...flooded].map(p => p.start()))
  targets = flooded.map(p => p.peerId)
  await Promise.all(targets.map(t => flooder.waitForPeer(t, { signal: AbortSignal.timeout(60_000) })))
  const counts = { sent: 0, ok: 0, refused: 0, failed: 0, bytes: 0 }
  let stopping = false
  process.once('message', () => { stopping = true })
  process.send({ ready: true })
  const body = new Uint8Array(bodyBytes).fill(7)
  // Signed-looking head: the receiving side checks the head before reading a body (defect 14)
  const head = JSON.stringify({
    method: 'PUT',
    url: '/_matrix/federation/v1/send/flood',
    headers: [['authorization', `X-Matrix origin="${flooder.peerId}",key="ed25519:a",sig="x"`]]
  })
  await Promise.all(Array.from({ length: inFlight }, async (_, i) => {
    while (!stopping) {
      counts.sent++
      try {
        const res = await flooder.roundTrip(targets[(counts.sent + i) % targets.length], { head, body }, { signal: AbortSignal.timeout(30_000) })
        if (JSON.parse(res.head).status === 429) counts.refused++ // roundTrip answers {head (JSON), body}
        else counts.ok++
        counts.bytes += bodyBytes
      } catch {
        counts.failed++
        await new Promise(resolve => setTimeout(resolve, 50))
      }
    }
  }))
  process.send(counts)
  await Promise.allSettled([flooder, ...flooded].map(p => p.stop()))
  process.exit(0)
})
