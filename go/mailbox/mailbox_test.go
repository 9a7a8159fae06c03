package mailbox

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/crypto/curve25519"
	"golang.org/x/crypto/nacl/box"

	"hearth/go/identity"
)

const secret = "the message text the relay must not see"

func newIdentity(t *testing.T) identity.Identity {
	t.Helper()
	id, err := identity.Generate(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// signedSend stands for a signed PUT /send: Seal does not care what it is.
func signedSend(t *testing.T, to identity.Identity) *http.Request {
	t.Helper()
	body := `{"origin":"x","pdus":[{"content":{"body":"` + secret + `"}}]}`
	req, err := http.NewRequest("PUT", "matrix://"+string(to.ServerName)+"/_matrix/federation/v1/send/1-2", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Add("Authorization", `X-Matrix origin="a",key="ed25519:p2p",sig="c2ln",destination="`+string(to.ServerName)+`"`)
	req.Header.Set("Content-Type", "application/json")
	return req
}

func TestSealOpen(t *testing.T) {
	bob, eve := newIdentity(t), newIdentity(t)
	sealed, err := Seal(signedSend(t, bob), bob.ServerName, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	flipped := bytes.Clone(sealed)
	flipped[len(flipped)/2] ^= 1

	cases := []struct {
		name   string
		sealed []byte
		key    identity.Identity
		ok     bool
	}{
		{"round trip", sealed, bob, true},
		{"wrong recipient", sealed, eve, false},
		{"tampered", flipped, bob, false},
		{"truncated", sealed[:len(sealed)-1], bob, false},
		{"empty", nil, bob, false},
		{"too large", make([]byte, MaxSealedBytes+1), bob, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, err := Open(tc.sealed, tc.key.Key)
			if !tc.ok {
				if !errors.Is(err, ErrUndecipherable) {
					t.Fatalf("err = %v, want ErrUndecipherable", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := signedSend(t, bob)
			wantBody, _ := io.ReadAll(want.Body)
			body, _ := io.ReadAll(req.Body)
			if req.Method != "PUT" || req.RequestURI != want.URL.RequestURI() || !bytes.Equal(body, wantBody) ||
				req.Header.Get("Authorization") != want.Header.Get("Authorization") || req.Host != string(bob.ServerName) {
				t.Fatalf("opened %s %s host %s auth %q body %s", req.Method, req.RequestURI, req.Host, req.Header.Get("Authorization"), body)
			}
		})
	}
}

// An envelope that opens but does not hold exactly one HTTP request is
// undecipherable too.
func TestOpenRefusesWhatIsNotOneRequest(t *testing.T) {
	bob := newIdentity(t)
	var plain bytes.Buffer
	if err := signedSend(t, bob).Write(&plain); err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string][]byte{
		"not HTTP":          []byte(secret),
		"request then more": append(bytes.Clone(plain.Bytes()), "GET / HTTP/1.1\r\n\r\n"...),
		"body cut short":    plain.Bytes()[:plain.Len()-3],
	} {
		t.Run(name, func(t *testing.T) {
			recipient, err := x25519Public(bob.Key.Public().(ed25519.PublicKey))
			if err != nil {
				t.Fatal(err)
			}
			sealed, err := box.SealAnonymous(nil, content, recipient, rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := Open(sealed, bob.Key); !errors.Is(err, ErrUndecipherable) {
				t.Fatalf("err = %v, want ErrUndecipherable", err)
			}
		})
	}
}

func TestSealedBytesHideThePlaintext(t *testing.T) {
	bob := newIdentity(t)
	sealed, err := Seal(signedSend(t, bob), bob.ServerName, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{secret, "X-Matrix", "/_matrix/federation", string(bob.ServerName)} {
		if bytes.Contains(sealed, []byte(s)) {
			t.Errorf("sealed bytes contain %q", s)
		}
	}
	again, _ := Seal(signedSend(t, bob), bob.ServerName, rand.Reader)
	if bytes.Equal(sealed, again) {
		t.Error("sealing twice gave the same bytes: the ephemeral key is not fresh")
	}
}

// The X25519 public key read from the ed25519 public key (the server name)
// must be the one the private key derived from the seed makes.
func TestDerivedKeysMatch(t *testing.T) {
	for range 20 {
		id := newIdentity(t)
		pub, err := identity.PublicKey(id.ServerName)
		if err != nil {
			t.Fatal(err)
		}
		fromPublic, err := x25519Public(pub)
		if err != nil {
			t.Fatal(err)
		}
		fromPrivate, err := curve25519.X25519(x25519Private(id.Key)[:], curve25519.Basepoint)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(fromPublic[:], fromPrivate) {
			t.Fatalf("%s: X25519 public %x from the name, %x from the seed", id.ServerName, fromPublic, fromPrivate)
		}
	}
}

func TestSealRefusesNamesThatAreNoKeys(t *testing.T) {
	bob := newIdentity(t)
	if _, err := Seal(signedSend(t, bob), "example.org", rand.Reader); !errors.Is(err, identity.ErrNotPeerID) {
		t.Fatalf("err = %v", err)
	}
}
