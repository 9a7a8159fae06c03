// Package identity is a server's one ed25519 key and the names derived from it.
//
// The same key is the Matrix signing key and the libp2p peer identity, and the
// server name IS the libp2p peer ID string ("12D3KooW…"). A remote server's
// public key is therefore read from its name: no key request, no notary.
package identity

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"
)

// KeyID names the signing key in every signature this server makes.
const KeyID gomatrixserverlib.KeyID = "ed25519:p2p"

// Identity is a server's key and the names derived from it. The zero value is unusable.
type Identity struct {
	// Key is the private key: 32-byte seed followed by the 32-byte public key.
	Key ed25519.PrivateKey
	// ServerName is the libp2p peer ID string of Key's public half.
	ServerName spec.ServerName
}

// Generate makes a new identity from randomness.
func Generate(random io.Reader) (Identity, error) {
	_, key, err := ed25519.GenerateKey(random)
	if err != nil {
		return Identity{}, fmt.Errorf("generate ed25519 key: %w", err)
	}
	return FromKey(key)
}

// FromKey rebuilds an identity from a stored private key.
func FromKey(key ed25519.PrivateKey) (Identity, error) {
	if len(key) != ed25519.PrivateKeySize {
		return Identity{}, fmt.Errorf("identity key has %d bytes, want %d", len(key), ed25519.PrivateKeySize)
	}
	pub := key.Public().(ed25519.PublicKey)
	return Identity{Key: key, ServerName: spec.ServerName(PeerID(pub))}, nil
}

// The libp2p encoding of an ed25519 public key (peer-ids spec): a protobuf
// PublicKey{Type: Ed25519 (1), Data: key}, wrapped in an identity multihash
// because it is short (≤ 42 bytes), then base58btc.
var publicKeyPrefix = []byte{
	0x00, 0x24, // multihash: identity function, 36 bytes of digest
	0x08, 0x01, // protobuf field 1 (KeyType), varint 1 = Ed25519
	0x12, 0x20, // protobuf field 2 (Data), 32 bytes
}

// PeerID returns the libp2p peer ID string of an ed25519 public key.
func PeerID(pub ed25519.PublicKey) string {
	raw := make([]byte, 0, len(publicKeyPrefix)+len(pub))
	raw = append(raw, publicKeyPrefix...)
	raw = append(raw, pub...)
	return base58Encode(raw)
}

// ErrNotPeerID is returned for a server name that is not an ed25519 peer ID.
var ErrNotPeerID = errors.New("server name is not an ed25519 libp2p peer ID")

// PublicKey recovers the public key a server name was derived from.
func PublicKey(serverName spec.ServerName) (ed25519.PublicKey, error) {
	raw, err := base58Decode(string(serverName))
	if err != nil || len(raw) != len(publicKeyPrefix)+ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: %q", ErrNotPeerID, serverName)
	}
	for i, b := range publicKeyPrefix {
		if raw[i] != b {
			return nil, fmt.Errorf("%w: %q", ErrNotPeerID, serverName)
		}
	}
	return ed25519.PublicKey(raw[len(publicKeyPrefix):]), nil
}
