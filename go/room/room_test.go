package room

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"

	"hearth/go/identity"
	"hearth/go/storage"
)

func newRooms(t *testing.T) (*Rooms, identity.Identity) {
	t.Helper()
	return newRoomsWith(t, Options{})
}

func newRoomsWith(t *testing.T, opts Options) (*Rooms, identity.Identity) {
	t.Helper()
	db, err := storage.Open(context.Background(), filepath.Join(t.TempDir(), "hearth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	id, err := identity.Generate(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return New(db, id, opts), id
}

// publicRoomOfTwo is a public room alice created and bob joined, on one server.
func publicRoomOfTwo(t *testing.T) (rooms *Rooms, alice, bob spec.UserID, roomID string) {
	t.Helper()
	ctx := context.Background()
	rooms, id := newRooms(t)
	alice = userID(t, "@alice:"+string(id.ServerName))
	bob = userID(t, "@bob:"+string(id.ServerName))
	roomID, err := rooms.Perform.Create(ctx, alice, CreateRequest{Preset: PresetPublicChat})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rooms.Perform.SetMembership(ctx, bob, roomID, bob, spec.Join, ""); err != nil {
		t.Fatal(err)
	}
	return rooms, alice, bob, roomID
}

func userID(t testing.TB, s string) spec.UserID {
	u, err := spec.NewUserID(s, true)
	if err != nil {
		t.Fatal(err)
	}
	return *u
}

// Every stored event carries a correct content hash and a signature by the
// server key that a third party can check from the server name alone.
func TestEventsAreHashedAndSigned(t *testing.T) {
	ctx := context.Background()
	rooms, id := newRooms(t)
	alice := userID(t, "@alice:"+string(id.ServerName))
	roomID, err := rooms.Perform.Create(ctx, alice, CreateRequest{Name: "Signed", Topic: "t"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rooms.Perform.Send(ctx, alice, "DEV", "t1", roomID, "m.room.message", nil, json.RawMessage(`{"body":"hi","msgtype":"m.text"}`)); err != nil {
		t.Fatal(err)
	}
	events, _, err := rooms.Query.Timeline(ctx, roomID, spec.UserID{}, "", 0, 1<<62, 100)
	if err != nil {
		t.Fatal(err)
	}
	// create, member, power levels, join rules, history visibility, guest access, name, topic, message
	if len(events) != 9 {
		t.Fatalf("%d events, want 9", len(events))
	}
	pub, err := identity.PublicKey(id.ServerName)
	if err != nil {
		t.Fatal(err)
	}
	v := gomatrixserverlib.MustGetRoomVersion(DefaultVersion)
	for _, ev := range events {
		untrusted, err := v.NewEventFromUntrustedJSON(ev.JSON())
		if err != nil {
			t.Fatalf("%s does not parse as untrusted JSON: %v", ev.Type(), err)
		}
		if untrusted.Redacted() {
			t.Fatalf("%s has a wrong content hash", ev.Type())
		}
		redacted, err := v.RedactEventJSON(ev.JSON())
		if err != nil {
			t.Fatal(err)
		}
		if err := gomatrixserverlib.VerifyJSON(string(id.ServerName), identity.KeyID, ed25519.PublicKey(pub), redacted); err != nil {
			t.Fatalf("%s signature: %v", ev.Type(), err)
		}
	}
	if last := events[len(events)-1]; last.Type() != "m.room.message" || last.Version() != DefaultVersion {
		t.Fatalf("last event %s of version %s", last.Type(), last.Version())
	}
}

// The auth rules run on every event this server creates.
func TestAuthRulesRefuseEvents(t *testing.T) {
	ctx := context.Background()
	rooms, alice, bob, roomID := publicRoomOfTwo(t)
	empty := ""
	cases := []struct {
		name string
		do   func() error
	}{
		{"bob changes power levels", func() error {
			_, err := rooms.Perform.Send(ctx, bob, "D", "", roomID, spec.MRoomPowerLevels, &empty, json.RawMessage(`{"users":{"`+bob.String()+`":100}}`))
			return err
		}},
		{"bob kicks alice", func() error {
			_, err := rooms.Perform.SetMembership(ctx, bob, roomID, alice, spec.Leave, "")
			return err
		}},
		{"bob sets alice's membership state", func() error {
			sk := alice.String()
			_, err := rooms.Perform.Send(ctx, bob, "D", "", roomID, spec.MRoomMember, &sk, json.RawMessage(`{"membership":"join"}`))
			return err
		}},
	}
	before, _ := rooms.Query.LatestPos(ctx)
	for _, c := range cases {
		if err := c.do(); !errors.Is(err, ErrForbidden) {
			t.Errorf("%s: err = %v, want ErrForbidden", c.name, err)
		}
	}
	if after, _ := rooms.Query.LatestPos(ctx); after != before {
		t.Fatalf("refused events were stored: position %d → %d", before, after)
	}
	// Alice, with power 100, may kick bob.
	if _, err := rooms.Perform.SetMembership(ctx, alice, roomID, bob, spec.Leave, "bye"); err != nil {
		t.Fatalf("alice kicks bob: %v", err)
	}
}

func TestStreamPosTokens(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want StreamPos
		ok   bool
	}{{"s0", 0, true}, {"s42", 42, true}, {"42", 0, false}, {"s-1", -1, true}, {"", 0, false}, {"sx", 0, false}} {
		got, err := ParseStreamPos(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseStreamPos(%q) = %d, %v", tc.in, got, err)
		}
		if tc.ok && got.String() != tc.in {
			t.Errorf("%q round-trips to %q", tc.in, got.String())
		}
	}
}
