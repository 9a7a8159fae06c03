/**
 * The server name an identity key stands for: its libp2p peer ID, as Go
 * derives it (go/identity), so a backup's manifest can be checked against its key.
 */
import { privateKeyFromRaw } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'

/** @param {Uint8Array} identityKey ed25519 seed || public key (64 bytes) @returns {string} */
export function serverNameOf (identityKey) {
  return peerIdFromPrivateKey(privateKeyFromRaw(identityKey)).toString()
}
