package federation

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/matrix-org/gomatrixserverlib/spec"

	"hearth/go/room"
)

// The public room directory (client-server and server-server API, "Room
// directory"): each server lists the public rooms it is in, a page at a time;
// a client's directory is this server's list merged with every known peer's.

// PublicRooms is a page of a public room directory.
type PublicRooms struct {
	Chunk                  []room.PublicRoom `json:"chunk"`
	NextBatch              string            `json:"next_batch,omitempty"`
	PrevBatch              string            `json:"prev_batch,omitempty"`
	TotalRoomCountEstimate int               `json:"total_room_count_estimate"`
}

// DirectoryQuery selects a page of a directory. Since is an opaque token
// from an earlier page's NextBatch or PrevBatch ("" for the first page).
type DirectoryQuery struct {
	Limit  int    // 0: no limit
	Since  string // "": from the start
	Search string // generic_search_term: matched against name, topic, alias and ID
}

// DirectoryBody is the body of POST publicRooms, client-server and
// server-server alike.
type DirectoryBody struct {
	Limit  int    `json:"limit"`
	Since  string `json:"since"`
	Filter struct {
		GenericSearchTerm string `json:"generic_search_term"`
	} `json:"filter"`
}

// Query returns the page the body asks for.
func (b DirectoryBody) Query() DirectoryQuery {
	return DirectoryQuery{Limit: b.Limit, Since: b.Since, Search: b.Filter.GenericSearchTerm}
}

// PeerDirectoryTimeout bounds how long a client's directory waits for one
// other server: a browser peer may be gone without having said so.
const PeerDirectoryTimeout = 3 * time.Second

// publicRooms answers another server with a page of this server's public
// rooms: GET with limit and since in the query, POST with them (and a
// filter) in the body.
func (f *Federation) publicRooms(req *request) (any, error) {
	var q DirectoryQuery
	if req.Method == "POST" {
		var body DirectoryBody
		if len(req.content) > 0 {
			if err := req.readContent(&body); err != nil {
				return nil, err
			}
		}
		q = body.Query()
	} else {
		v := req.URL.Query()
		q.Since = v.Get("since")
		if s := v.Get("limit"); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 0 {
				return nil, fmt.Errorf("%w: limit must be a non-negative integer", ErrBadToken)
			}
			q.Limit = n
		}
	}
	return f.LocalPublicRooms(req.ctx(), q)
}

// LocalPublicRooms returns a page of the public rooms this server is in.
func (f *Federation) LocalPublicRooms(ctx context.Context, q DirectoryQuery) (PublicRooms, error) {
	rooms, err := f.rooms.Query.PublicRooms(ctx)
	if err != nil {
		return PublicRooms{}, err
	}
	return page(rooms, q)
}

// RemotePublicRooms asks another server for a page of its public rooms,
// waiting at most PeerDirectoryTimeout.
func (f *Federation) RemotePublicRooms(ctx context.Context, server spec.ServerName, q DirectoryQuery) (PublicRooms, error) {
	if server == f.id.ServerName {
		return f.LocalPublicRooms(ctx, q)
	}
	ctx, cancel := context.WithTimeout(ctx, PeerDirectoryTimeout)
	defer cancel()
	var out PublicRooms
	var err error
	if q.Search != "" {
		body := DirectoryBody{Limit: q.Limit, Since: q.Since}
		body.Filter.GenericSearchTerm = q.Search
		err = f.client.do(ctx, server, "POST", "/_matrix/federation/v1/publicRooms", nil, body, &out)
	} else {
		v := url.Values{}
		if q.Limit > 0 {
			v.Set("limit", strconv.Itoa(q.Limit))
		}
		if q.Since != "" {
			v.Set("since", q.Since)
		}
		err = f.client.do(ctx, server, "GET", "/_matrix/federation/v1/publicRooms", v, nil, &out)
	}
	if err != nil {
		return PublicRooms{}, fmt.Errorf("public rooms of %s: %w", server, err)
	}
	if out.Chunk == nil {
		out.Chunk = []room.PublicRoom{}
	}
	return out, nil
}

// AllPublicRooms returns a page of the public rooms of this server and of
// every known peer (KnownServers), asked all at once, each for at most
// PeerDirectoryTimeout; a peer that does not answer in time is left out,
// and is not asked again for directoryRetry (so paging stays fast).
// The since token pages through the merged list.
func (f *Federation) AllPublicRooms(ctx context.Context, q DirectoryQuery) (PublicRooms, error) {
	local, err := f.rooms.Query.PublicRooms(ctx)
	if err != nil {
		return PublicRooms{}, err
	}
	peers, err := f.KnownServers(ctx)
	if err != nil {
		return PublicRooms{}, err
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	merged := slices.Clone(local)
	slots := make(chan struct{}, maxDirectoryFanout)
	for _, peer := range peers {
		if f.directoryMissed(peer) {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			slots <- struct{}{}
			defer func() { <-slots }()
			// One page of up to maxPeerRooms: a browser holds few rooms.
			out, err := f.RemotePublicRooms(ctx, peer, DirectoryQuery{Limit: maxPeerRooms, Search: q.Search})
			if err != nil {
				log.WithError(err).WithField("peer", peer).Debug("peer's public rooms left out")
				f.directoryMiss(peer)
				return
			}
			mu.Lock()
			merged = append(merged, out.Chunk...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	// The same room listed by several servers: keep the entry with the most
	// members (the best informed).
	slices.SortFunc(merged, func(a, b room.PublicRoom) int {
		if c := strings.Compare(a.RoomID, b.RoomID); c != 0 {
			return c
		}
		return b.NumJoinedMembers - a.NumJoinedMembers
	})
	merged = slices.CompactFunc(merged, func(a, b room.PublicRoom) bool { return a.RoomID == b.RoomID })
	slices.SortStableFunc(merged, func(a, b room.PublicRoom) int { return b.NumJoinedMembers - a.NumJoinedMembers })
	return page(merged, q)
}

// directoryRetry is how long a peer that failed to list its rooms is left
// out of AllPublicRooms.
const directoryRetry = 30 * time.Second

func (f *Federation) directoryMissed(peer spec.ServerName) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	at, ok := f.directoryMisses[peer]
	return ok && f.opts.Now().Sub(at) < directoryRetry
}

func (f *Federation) directoryMiss(peer spec.ServerName) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.directoryMisses[peer] = f.opts.Now()
}

// maxDirectoryFanout bounds the peers AllPublicRooms asks at once.
const maxDirectoryFanout = 16

// maxPeerRooms is how many rooms AllPublicRooms takes from one peer.
const maxPeerRooms = 100

// KnownServers returns the other servers this one knows of: those sharing a
// room with it and those the transport currently reaches (Options.Peers).
func (f *Federation) KnownServers(ctx context.Context) ([]spec.ServerName, error) {
	servers, err := f.rooms.Query.AllJoinedServers(ctx)
	if err != nil {
		return nil, err
	}
	for _, p := range f.opts.Peers() {
		servers = append(servers, spec.ServerName(p))
	}
	out := f.candidates(servers)
	slices.Sort(out)
	return out, nil
}

// page cuts one page out of a directory listing; the tokens are offsets.
func page(rooms []room.PublicRoom, q DirectoryQuery) (PublicRooms, error) {
	if q.Search != "" {
		term := strings.ToLower(q.Search)
		rooms = slices.DeleteFunc(slices.Clone(rooms), func(r room.PublicRoom) bool {
			for _, s := range []string{r.Name, r.Topic, r.CanonicalAlias, r.RoomID} {
				if strings.Contains(strings.ToLower(s), term) {
					return false
				}
			}
			return true
		})
	}
	start := 0
	if q.Since != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(q.Since, "o"))
		if err != nil || n < 0 || !strings.HasPrefix(q.Since, "o") {
			return PublicRooms{}, fmt.Errorf("%w: since %q is not a token of this directory", ErrBadToken, q.Since)
		}
		start = min(n, len(rooms))
	}
	end := len(rooms)
	if q.Limit > 0 {
		end = min(start+q.Limit, len(rooms))
	}
	out := PublicRooms{Chunk: rooms[start:end], TotalRoomCountEstimate: len(rooms)}
	if out.Chunk == nil {
		out.Chunk = []room.PublicRoom{}
	}
	if end < len(rooms) {
		out.NextBatch = "o" + strconv.Itoa(end)
	}
	if start > 0 {
		out.PrevBatch = "o" + strconv.Itoa(max(0, start-max(q.Limit, 1)))
		if q.Limit == 0 {
			out.PrevBatch = "o0"
		}
	}
	return out, nil
}
