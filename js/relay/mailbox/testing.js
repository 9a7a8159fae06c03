/**
 * For tests only: a relay with a mailbox in a fresh directory on 127.0.0.1,
 * peers on it, and a raw mailbox stream for speaking the wire protocol
 * directly. Importers import '../../p2p/node-env.js' (or the like) first.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromString } from '@libp2p/peer-id'
import { createRelay } from '../index.js'
import { createP2P } from '../../p2p/index.js'
import { MAILBOX_PROTOCOL } from '../../p2p/constants.js'
import { decodeFrame, encodeFrame, mailboxStream } from '../../p2p/mailbox-frames.js'

export const quiet = { log () {}, info () {}, warn () {}, debug () {} }

export async function newKey () {
  return (await generateKeyPair('Ed25519')).raw
}

/**
 * Runs fn with a started relay (mailbox options merged over `mailbox`) and a
 * peer factory; stops everything and removes the directory whatever happens.
 * @param {(net: {relay: ReturnType<typeof createRelay>, dir: string,
 *   makePeer: (opts?: {key?: Uint8Array, onMail?: Function, onNotice?: Function, logger?: object}) => Promise<ReturnType<typeof createP2P>>}) => Promise<void>} fn
 * @param {{mailbox?: object}} [options]
 */
export async function withMailboxRelay (fn, { mailbox = {} } = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'hearth-mailbox-'))
  const relay = createRelay({ port: 0, logger: quiet, mailbox: { dir, ...mailbox } })
  const peers = []
  await relay.start()
  const makePeer = async ({ key, onMail, onNotice, logger = quiet } = {}) => {
    const peer = createP2P({
      privateKey: key ?? await newKey(),
      relayAddrs: relay.multiaddrs(),
      serve: async () => ({ status: 404, headers: [], body: new Uint8Array(0) }),
      onMail,
      onNotice,
      logger
    })
    peers.push(peer)
    await peer.start()
    return peer
  }
  try {
    await fn({ relay, dir, makePeer })
  } finally {
    await Promise.allSettled(peers.map(p => p.stop()))
    await relay.stop()
    await rm(dir, { recursive: true, force: true })
  }
}

/** Resolves once `peer` holds its mailbox on every relay. */
export function mailboxOpen (peer, ms = 5000) {
  return waitUntil(() => peer.relays().every(r => r.online && r.mailbox), ms, `${peer.peerId} has no open mailbox`)
}

export async function waitUntil (predicate, ms, message) {
  const deadline = Date.now() + ms
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(message)
    await new Promise(resolve => setTimeout(resolve, 20))
  }
}

/**
 * A mailbox stream opened by hand from a running peer's node, for frames no
 * well-behaved client sends.
 * @returns {Promise<{stream: object, send: (head: object, payload?: Uint8Array) => Promise<void>,
 *   sendRaw: (bytes: Uint8Array) => Promise<void>, read: () => Promise<{head: object, payload: Uint8Array}>}>}
 */
export async function rawMailbox (peer, relayPeerId) {
  const stream = await peer.libp2p.dialProtocol(peerIdFromString(relayPeerId), MAILBOX_PROTOCOL)
  const lp = mailboxStream(stream)
  return {
    stream,
    send: (head, payload) => lp.write(encodeFrame(head, payload)),
    sendRaw: (bytes) => lp.write(bytes),
    read: async () => decodeFrame((await lp.read({ signal: AbortSignal.timeout(5000) })).subarray())
  }
}
