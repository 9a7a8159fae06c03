//go:build !js

package federation_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/matrix-org/gomatrixserverlib/spec"

	"hearth/go/server"
)

type directoryPage struct {
	Chunk []struct {
		RoomID string `json:"room_id"`
		Name   string `json:"name"`
	} `json:"chunk"`
	NextBatch string `json:"next_batch"`
	PrevBatch string `json:"prev_batch"`
	Total     int    `json:"total_room_count_estimate"`
}

func (u *user) directory(method, path string, body any) directoryPage {
	u.node.t.Helper()
	var p directoryPage
	if err := json.Unmarshal(u.must(method, path, body).raw, &p); err != nil {
		u.node.t.Fatal(err)
	}
	return p
}

// Another server's directory pages with limit and since (GET) and filters
// by a search term (POST); the client API passes both through federation.
func TestPublicRoomsPaging(t *testing.T) {
	n := newNetwork(t)
	nodes := n.nodes(2)
	a, b := nodes[0], nodes[1]
	alice, bob := a.register("alice"), b.register("bob")
	var want []string
	for _, name := range []string{"one", "two", "three", "four", "five"} {
		want = append(want, alice.createRoom(map[string]any{"preset": "public_chat", "visibility": "public", "name": "room " + name}))
	}
	slices.Sort(want)

	var got []string
	since := ""
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		path := "/_matrix/client/v3/publicRooms?server=" + string(a.name) + "&limit=2"
		if since != "" {
			path += "&since=" + since
		}
		p := bob.directory("GET", path, nil)
		if len(p.Chunk) > 2 || p.Total != 5 || (since != "" && p.PrevBatch == "") {
			t.Fatalf("page %d: %+v", pages, p)
		}
		for _, r := range p.Chunk {
			got = append(got, r.RoomID)
		}
		if since = p.NextBatch; since == "" {
			break
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("paged through %v, want %v", got, want)
	}

	p := bob.directory("POST", "/_matrix/client/v3/publicRooms?server="+string(a.name),
		map[string]any{"limit": 10, "filter": map[string]any{"generic_search_term": "THREE"}})
	if len(p.Chunk) != 1 || p.Chunk[0].Name != "room three" {
		t.Fatalf("search: %+v", p)
	}
	if r := bob.do("GET", "/_matrix/client/v3/publicRooms?server="+string(a.name)+"&since=bogus", nil); r.status != http.StatusBadRequest {
		t.Fatalf("bad since: %d %s", r.status, r.raw)
	}
}

// Without ?server=, the directory merges this server's public rooms with
// every known peer's: those sharing a room and those the transport lists.
// A peer that never answers costs at most the per-peer timeout.
func TestPublicRoomsOfEveryKnownPeer(t *testing.T) {
	n := newNetwork(t)
	a, b := n.node(fastQueue), n.node(fastQueue)
	// A peer the transport lists that accepts requests and never answers.
	silent := spec.ServerName("12D3KooWSilentPeerThatNeverAnswersAnything1234567")
	n.net.Register(silent, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	c := n.nodeWith(func(cfg *server.Config) {
		cfg.Peers = func() []string { return []string{string(a.name), string(silent)} }
	})
	alice, bob, carol := a.register("alice"), b.register("bob"), c.register("carol")
	lobby := alice.createRoom(map[string]any{"preset": "public_chat", "visibility": "public", "name": "A's lobby"})
	shared := bob.createRoom(map[string]any{"preset": "public_chat", "visibility": "public", "name": "B's room"})
	carols := carol.createRoom(map[string]any{"preset": "public_chat", "visibility": "public", "name": "C's room"})
	carol.join(shared, b) // C knows B through a room, A through the transport

	start := time.Now()
	p := carol.directory("GET", "/_matrix/client/v3/publicRooms", nil)
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("the directory took %v", took)
	}
	var got []string
	for _, r := range p.Chunk {
		got = append(got, r.RoomID)
	}
	if !hasAll(got, lobby, shared, carols) || len(got) != 3 {
		t.Fatalf("carol's directory: %v, want %v", got, []string{lobby, shared, carols})
	}
	// Paging works on the merged list too.
	p = carol.directory("POST", "/_matrix/client/v3/publicRooms", map[string]any{"limit": 2})
	if len(p.Chunk) != 2 || p.NextBatch == "" {
		t.Fatalf("first page: %+v", p)
	}
	if p = carol.directory("POST", "/_matrix/client/v3/publicRooms", map[string]any{"limit": 2, "since": p.NextBatch}); len(p.Chunk) != 1 {
		t.Fatalf("second page: %+v", p)
	}
}
