//go:build !js

package federation_test

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"

	"hearth/go/identity"
	"hearth/go/room"
)

// hostileServer is a server that is on the network only to send requests.
type hostileServer struct {
	t  *testing.T
	n  *network
	id identity.Identity
}

func newHostileServer(t *testing.T, n *network) *hostileServer {
	id, err := identity.Generate(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &hostileServer{t: t, n: n, id: id}
}

// invite sends an invite of invitee into a room of its own, with stripped state.
func (h *hostileServer) invite(to *node, roomID, invitee string, stripped []any) response {
	h.t.Helper()
	v := gomatrixserverlib.MustGetRoomVersion(gomatrixserverlib.RoomVersionV11)
	sender := "@mallory:" + string(h.id.ServerName)
	proto := gomatrixserverlib.ProtoEvent{SenderID: sender, RoomID: roomID, Type: spec.MRoomMember, StateKey: &invitee,
		PrevEvents: []string{"$prev"}, AuthEvents: []string{"$create"}, Depth: 5, Version: v}
	if err := proto.SetContent(map[string]any{"membership": "invite"}); err != nil {
		h.t.Fatal(err)
	}
	ev, err := v.NewEventBuilderFromProtoEvent(&proto).Build(time.Now(), h.id.ServerName, identity.KeyID, h.id.Key)
	if err != nil {
		h.t.Fatal(err)
	}
	return h.n.signedRequest(h.id, to.name, "PUT", "/_matrix/federation/v2/invite/"+url.PathEscape(roomID)+"/"+url.PathEscape(ev.EventID()),
		map[string]any{"event": json.RawMessage(ev.JSON()), "room_version": "11", "invite_room_state": stripped})
}

// Issue 11, defect 3: any server could store unlimited invite data: invites
// for users who do not exist, stripped state of any size, any number of invites.
func TestInvitesFromAnotherServerAreBounded(t *testing.T) {
	n := newNetwork(t)
	b := n.node(fastQueue)
	bob := b.register("bob")
	mallory := newHostileServer(t, n)
	roomOf := func(i int) string { return fmt.Sprintf("!room%d:%s", i, mallory.id.ServerName) }

	t.Run("unknown user", func(t *testing.T) {
		r := mallory.invite(b, roomOf(0), "@nobody:"+string(b.name), nil)
		if r.status != 403 || r.str("errcode") != "M_FORBIDDEN" {
			t.Fatalf("invite for an unknown user: %d %s", r.status, r.raw)
		}
	})

	t.Run("stripped state", func(t *testing.T) {
		var stripped []any
		big := strings.Repeat("x", 10<<10)
		for i := range 500 {
			stripped = append(stripped,
				map[string]any{"type": "m.room.topic", "state_key": fmt.Sprint(i), "sender": "@mallory:x", "content": map[string]any{"topic": big}},
				map[string]any{"type": "org.junk", "state_key": "", "sender": "@mallory:x", "content": map[string]any{}})
		}
		stripped = append(stripped, map[string]any{"type": "m.room.name", "state_key": "", "sender": "@mallory:x", "content": map[string]any{"name": "Free stuff"}})
		if r := mallory.invite(b, roomOf(1), bob.id, stripped); r.status != 200 {
			t.Fatalf("invite: %d %s", r.status, r.raw)
		}
		sync := bob.must("GET", "/_matrix/client/v3/sync", nil)
		var body struct {
			Rooms struct {
				Invite map[string]struct {
					InviteState struct {
						Events []json.RawMessage `json:"events"`
					} `json:"invite_state"`
				} `json:"invite"`
			} `json:"rooms"`
		}
		if err := json.Unmarshal(sync.raw, &body); err != nil {
			t.Fatal(err)
		}
		events := body.Rooms.Invite[roomOf(1)].InviteState.Events
		if len(events) == 0 || len(events) > 21 || len(sync.raw) > 100<<10 {
			t.Fatalf("invite state: %d events, sync %d bytes", len(events), len(sync.raw))
		}
		if strings.Contains(string(sync.raw), "org.junk") {
			t.Fatal("a stripped event of a type no client shows was kept")
		}
	})

	t.Run("pending invites per server", func(t *testing.T) {
		for i := 2; i <= room.MaxPendingInvitesPerServer; i++ {
			if r := mallory.invite(b, roomOf(i), bob.id, nil); r.status != 200 {
				t.Fatalf("invite %d: %d %s", i, r.status, r.raw)
			}
		}
		over := mallory.invite(b, roomOf(room.MaxPendingInvitesPerServer+1), bob.id, nil)
		if over.status != 403 || over.str("errcode") != "M_FORBIDDEN" {
			t.Fatalf("invite past the bound: %d %s", over.status, over.raw)
		}
		// A repeated invite to a pending room replaces it, and other servers are not affected.
		if r := mallory.invite(b, roomOf(1), bob.id, nil); r.status != 200 {
			t.Fatalf("repeated invite: %d %s", r.status, r.raw)
		}
		if r := newHostileServer(t, n).invite(b, "!other:elsewhere", bob.id, nil); r.status != 200 {
			t.Fatalf("another server's invite: %d %s", r.status, r.raw)
		}
	})
}
