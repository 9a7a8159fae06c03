package identity

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/matrix-org/gomatrixserverlib/spec"
)

// The vector was computed with @libp2p/crypto + @libp2p/peer-id from the seed 00 01 … 1f.
func TestPeerIDMatchesLibp2p(t *testing.T) {
	seed := make([]byte, ed25519.SeedSize)
	for i := range seed {
		seed[i] = byte(i)
	}
	id, err := FromKey(ed25519.NewKeyFromSeed(seed))
	if err != nil {
		t.Fatal(err)
	}
	pub := id.Key.Public().(ed25519.PublicKey)
	if got := hex.EncodeToString(pub); got != "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8" {
		t.Fatalf("public key = %s", got)
	}
	if id.ServerName != "12D3KooWA4Xop1JaT3MHxwYMkCepYsv4iPVopMXwCz5iHYdBfeSB" {
		t.Fatalf("server name = %s", id.ServerName)
	}
}

func TestPublicKeyRoundTrip(t *testing.T) {
	for range 20 {
		id, err := Generate(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		pub, err := PublicKey(id.ServerName)
		if err != nil {
			t.Fatalf("PublicKey(%s): %v", id.ServerName, err)
		}
		if !pub.Equal(id.Key.Public()) {
			t.Fatalf("round trip changed the key for %s", id.ServerName)
		}
	}
}

func TestPublicKeyRejectsOtherNames(t *testing.T) {
	for _, name := range []spec.ServerName{
		"", "example.org", "localhost:8008", "12D3KooW0OIl", // 0, O, I, l are not base58
		"QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N",      // an RSA-style (sha256) peer ID
		"12D3KooWA4Xop1JaT3MHxwYMkCepYsv4iPVopMXwCz5iHYdBfeS", // one character short
	} {
		if _, err := PublicKey(name); !errors.Is(err, ErrNotPeerID) {
			t.Errorf("PublicKey(%q) err = %v, want ErrNotPeerID", name, err)
		}
	}
}

func TestFromKeyRejectsShortKey(t *testing.T) {
	if _, err := FromKey(make([]byte, 10)); err == nil {
		t.Fatal("FromKey accepted a 10-byte key")
	}
}
