package room

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"

	"hearth/go/identity"
	"hearth/go/storage"
)

// peer is one server of a room-level federation in one process: events
// travel between peers by direct calls of the functions package federation
// calls (Template, Sign, Receive, StateBefore, StoreOutliers), with no HTTP.
// Peers made with the same seed make byte-identical events, so a scenario's
// event IDs are the same on every run and every version of this code.
type peer struct {
	t     testing.TB
	rooms *Rooms
	db    *storage.DB
	name  spec.ServerName
}

// newPeer opens a peer with a fresh database at path ("" for a temporary
// one), a key and randomness from seed, and a clock that ticks 1 ms per read.
func newPeer(t testing.TB, seed byte, path string) *peer {
	t.Helper()
	if runtime.GOOS == "js" {
		t.Skip("a wasm test binary has one sql.js database (hearthStorage): peers need a database each")
	}
	if path == "" {
		path = filepath.Join(t.TempDir(), "hearth.db")
	}
	db, err := storage.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return newPeerOn(t, seed, db)
}

func newPeerOn(t testing.TB, seed byte, db *storage.DB) *peer {
	t.Helper()
	return newPeerWith(t, seed, db, Options{})
}

// newPeerWith is newPeerOn with opts (its clock and randomness are the peer's).
func newPeerWith(t testing.TB, seed byte, db *storage.DB, opts Options) *peer {
	t.Helper()
	keySeed := make([]byte, ed25519.SeedSize)
	keySeed[0] = seed
	id, err := identity.FromKey(ed25519.NewKeyFromSeed(keySeed))
	if err != nil {
		t.Fatal(err)
	}
	tick := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(seed) * time.Hour)
	now := func() time.Time { tick = tick.Add(time.Millisecond); return tick }
	random := rand.NewChaCha8([32]byte{seed})
	opts.Now, opts.Random = now, random
	return &peer{t: t, db: db, name: id.ServerName, rooms: New(db, id, opts)}
}

func (p *peer) user(localpart string) spec.UserID {
	return userID(p.t, "@"+localpart+":"+string(p.name))
}

// send adds an event from a local user and returns it.
func (p *peer) send(sender spec.UserID, roomID, evType string, stateKey *string, content string) gomatrixserverlib.PDU {
	p.t.Helper()
	id, err := p.rooms.Perform.Send(context.Background(), sender, "DEV", "", roomID, evType, stateKey, json.RawMessage(content))
	if err != nil {
		p.t.Fatalf("%s sends %s: %v", sender.String(), evType, err)
	}
	return p.event(roomID, id)
}

func (p *peer) event(roomID, eventID string) gomatrixserverlib.PDU {
	p.t.Helper()
	ev, err := p.rooms.Query.Event(context.Background(), roomID, eventID)
	if err != nil {
		p.t.Fatal(err)
	}
	return ev
}

// deliver hands events to p as a transaction would (live).
func (p *peer) deliver(events ...gomatrixserverlib.PDU) {
	p.t.Helper()
	for _, ev := range events {
		if _, err := p.rooms.Input.Receive(context.Background(), Incoming{Event: ev, Live: true}); err != nil {
			p.t.Fatalf("%s receives %s: %v", p.name, ev.EventID(), err)
		}
	}
}

// joinVia joins p's user to a room resident on p's peer via, as make_join
// and send_join do, and returns the join event.
func (p *peer) joinVia(user spec.UserID, roomID string, via *peer) gomatrixserverlib.PDU {
	p.t.Helper()
	ctx := context.Background()
	sk := user.String()
	builder, err := via.rooms.Perform.Template(ctx, roomID, user, spec.MRoomMember, &sk, json.RawMessage(`{"membership":"join"}`))
	if err != nil {
		p.t.Fatalf("make_join: %v", err)
	}
	ev, err := p.rooms.Perform.Sign(builder)
	if err != nil {
		p.t.Fatal(err)
	}
	if _, err := via.rooms.Input.Receive(ctx, Incoming{Event: ev, Broadcast: true}); err != nil {
		p.t.Fatalf("send_join: %v", err)
	}
	resident, err := p.rooms.Query.Resident(ctx, roomID)
	if err != nil {
		p.t.Fatal(err)
	}
	if resident {
		return ev
	}
	state, chain, err := via.rooms.Query.StateBefore(ctx, roomID, ev.EventID())
	if err != nil {
		p.t.Fatalf("send_join state: %v", err)
	}
	if err := p.rooms.Input.EnsureRoom(ctx, roomID, ev.Version()); err != nil {
		p.t.Fatal(err)
	}
	if err := p.rooms.Input.StoreOutliers(ctx, roomID, append(chain, state...)); err != nil {
		p.t.Fatal(err)
	}
	ids := make([]string, len(state))
	for i, s := range state {
		ids[i] = s.EventID()
	}
	if _, err := p.rooms.Input.Receive(ctx, Incoming{Event: ev, StateBefore: ids}); err != nil {
		p.t.Fatalf("join %s: %v", roomID, err)
	}
	return ev
}

// forkScenario plays a room between two servers with concurrent state
// changes resolved by state resolution v2: power changes, a topic set on both
// sides at once, a ban racing a demotion, and messages on both sides. It
// returns the room ID.
func forkScenario(a, b *peer) string {
	empty := ""
	alice, carol, bob := a.user("alice"), a.user("carol"), b.user("bob")
	roomID, err := a.rooms.Perform.Create(context.Background(), alice, CreateRequest{Preset: PresetPublicChat, Name: "forks", Topic: "start"})
	if err != nil {
		a.t.Fatal(err)
	}
	b.joinVia(bob, roomID, a)
	if _, err := a.rooms.Perform.SetMembership(context.Background(), carol, roomID, carol, spec.Join, ""); err != nil {
		a.t.Fatal(err)
	}
	b.deliver(a.event(roomID, mustCurrent(a, roomID, spec.MRoomMember, carol.String())))
	pl := func(bobLevel int) string {
		return `{"users":{"` + alice.String() + `":100,"` + bob.String() + `":` + itoa(bobLevel) + `},"state_default":50,"ban":50,"kick":50,"redact":50,"events_default":0,"users_default":0}`
	}
	promote := a.send(alice, roomID, spec.MRoomPowerLevels, &empty, pl(75))
	b.deliver(promote)
	b.deliver(a.send(alice, roomID, "m.room.message", nil, `{"msgtype":"m.text","body":"hello"}`))
	a.deliver(b.send(bob, roomID, "m.room.message", nil, `{"msgtype":"m.text","body":"hi"}`))

	// A topic set on both sides at once.
	topicA := a.send(alice, roomID, spec.MRoomTopic, &empty, `{"topic":"from A"}`)
	topicB := b.send(bob, roomID, spec.MRoomTopic, &empty, `{"topic":"from B"}`)
	a.deliver(topicB)
	b.deliver(topicA)
	a.deliver(b.send(bob, roomID, "m.room.message", nil, `{"msgtype":"m.text","body":"after topics"}`))

	// A demotion of bob racing bob's ban of carol.
	demote := a.send(alice, roomID, spec.MRoomPowerLevels, &empty, pl(0))
	sk := carol.String()
	ban := b.send(bob, roomID, spec.MRoomMember, &sk, `{"membership":"ban","reason":"race"}`)
	b.deliver(demote)
	a.deliver(ban)

	// Both sides go on; a name change and messages over the merged state.
	name := a.send(alice, roomID, spec.MRoomName, &empty, `{"name":"after the race"}`)
	b.deliver(name)
	bye := b.send(bob, roomID, "m.room.message", nil, `{"msgtype":"m.text","body":"still here"}`)
	a.deliver(bye)
	return roomID
}

func mustCurrent(p *peer, roomID, evType, stateKey string) string {
	p.t.Helper()
	v, err := roomVersion(context.Background(), reader{p.db}, roomID)
	if err != nil {
		p.t.Fatal(err)
	}
	ev, err := stateEvent(context.Background(), reader{p.db}, v, roomID, evType, stateKey)
	if err != nil {
		p.t.Fatal(err)
	}
	return ev.EventID()
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }
