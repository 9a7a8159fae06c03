// Package mailbox seals signed federation requests for a recipient's mailbox
// on a relay, and opens what arrives in ours (../shared/DESIGN.md,
// "Asynchronous delivery"; the contract is plan offline-delivery.md §3).
//
// # The envelope
//
// The plaintext is the whole X-Matrix signed request, in HTTP/1.1 wire format
// (request line, headers including Authorization, Content-Length, body): the
// receiver serves it as the request it is, so the sender's signature over
// method, URI, origin, destination and body is checked as for a live one. It
// is sealed with NaCl's anonymous box (golang.org/x/crypto/nacl/box
// SealAnonymous: an ephemeral X25519 key, XSalsa20-Poly1305) to the X25519
// form of the recipient's ed25519 identity key, which is its server name. So a
// relay learns only sender, recipient, size and time, and the envelope says
// nothing of who sealed it: who sent it is the signed request inside.
//
// The package knows nothing of Matrix beyond that; package federation decides
// what may be inside an envelope.
package mailbox

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha512"
	"fmt"
	"io"
	"net/http"
	"time"

	"filippo.io/edwards25519"
	"github.com/matrix-org/gomatrixserverlib/spec"
	"golang.org/x/crypto/nacl/box"

	"hearth/go/identity"
)

// MaxSealedBytes bounds an envelope Open accepts: the relay's largest deposit
// (2 MiB by default) with room to spare. Senders keep theirs near 1 MiB.
const MaxSealedBytes = 4 << 20

// Depositor hands a sealed envelope to a mailbox of its recipient. In the
// browser it is the bridge's hearthP2P.deposit (a relay the sender is online
// on); in tests, a map in memory.
//
// ref names the envelope for the notices that come back about it: the
// transaction ID of the request inside (1–100 characters of
// [A-Za-z0-9._~-]). Depositing the same (recipient, ref) again stores nothing
// new. Deposit returns once the mailbox holds the envelope durably, with the
// time the mailbox will drop it unread; or an error, ErrMailboxFull,
// ErrRateLimited, ErrTooLarge or ErrNoMailbox when the mailbox refused it (the
// sender keeps the request and tries again later). Safe for concurrent use;
// ctx ending abandons the deposit.
type Depositor interface {
	Deposit(ctx context.Context, to spec.ServerName, ref string, sealed []byte) (expires time.Time, err error)
}

// Seal serialises req, a signed federation request, and seals it to the
// server named to. It reads req's body.
func Seal(req *http.Request, to spec.ServerName, random io.Reader) ([]byte, error) {
	pub, err := identity.PublicKey(to)
	if err != nil {
		return nil, fmt.Errorf("seal for %s: %w", to, err)
	}
	recipient, err := x25519Public(pub)
	if err != nil {
		return nil, fmt.Errorf("seal for %s: %w", to, err)
	}
	var plain bytes.Buffer
	if err := req.Write(&plain); err != nil {
		return nil, fmt.Errorf("serialise request: %w", err)
	}
	sealed, err := box.SealAnonymous(nil, plain.Bytes(), recipient, random)
	if err != nil {
		return nil, fmt.Errorf("seal for %s: %w", to, err)
	}
	return sealed, nil
}

// Open opens an envelope sealed to key's identity and returns the request in
// it, body read. It fails with ErrUndecipherable for anything that is not an
// envelope for us holding one well-formed request; what the request says is
// not checked here.
func Open(sealed []byte, key ed25519.PrivateKey) (*http.Request, error) {
	if len(sealed) > MaxSealedBytes {
		return nil, fmt.Errorf("%w: %d bytes, over %d", ErrUndecipherable, len(sealed), MaxSealedBytes)
	}
	pub, ok := key.Public().(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%w: not an ed25519 key", ErrUndecipherable)
	}
	public, err := x25519Public(pub)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUndecipherable, err)
	}
	plain, ok := box.OpenAnonymous(nil, sealed, public, x25519Private(key))
	if !ok {
		return nil, fmt.Errorf("%w: not sealed to this server, or altered", ErrUndecipherable)
	}
	rd := bufio.NewReader(bytes.NewReader(plain))
	req, err := http.ReadRequest(rd)
	if err != nil {
		return nil, fmt.Errorf("%w: read request: %v", ErrUndecipherable, err)
	}
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return nil, fmt.Errorf("%w: read request body: %v", ErrUndecipherable, err)
	}
	if rd.Buffered() > 0 {
		return nil, fmt.Errorf("%w: bytes after the request", ErrUndecipherable)
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	return req, nil
}

// x25519Public is the Montgomery form of an ed25519 public key (RFC 7748
// birational map), the key anyone may seal to.
func x25519Public(pub ed25519.PublicKey) (*[32]byte, error) {
	p, err := new(edwards25519.Point).SetBytes(pub)
	if err != nil {
		return nil, fmt.Errorf("ed25519 public key is not a curve point: %w", err)
	}
	var out [32]byte
	copy(out[:], p.BytesMontgomery())
	return &out, nil
}

// x25519Private is the X25519 private key matching x25519Public: the ed25519
// secret scalar, SHA-512 of the seed, first half (X25519 clamps it itself,
// as ed25519 does).
func x25519Private(key ed25519.PrivateKey) *[32]byte {
	h := sha512.Sum512(key.Seed())
	var out [32]byte
	copy(out[:], h[:32])
	return &out
}
