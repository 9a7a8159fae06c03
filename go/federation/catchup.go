package federation

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/matrix-org/gomatrixserverlib/spec"

	"hearth/go/room"
)

// Catch-up from any online member: when a peer appears, this server asks it,
// for each room they share, for the room's newest events, and takes those it
// lacks as live events from that peer (gaps filled with get_missing_events,
// or with the state at the gap's edge). So a conversation continues when the
// sender is offline by the time the reader comes back, as long as some other
// member is online. Every event is checked by its own signatures and the auth
// rules, never trusted for the peer that handed it on.
//
// The question is one small Hearth addition to the server-server API:
//
//	GET /_matrix/federation/unstable/org.hearth.catchup/latest_events/{roomId}
//	→ 200 {"latest_events": ["$…", …]}
//
// the room's forward extremities on the answering server, at most
// maxLatestEvents. X-Matrix signed like every federation request; 403
// M_FORBIDDEN unless the origin has a joined member and may see those events
// (the rule of /state).
const catchUpPath = "/_matrix/federation/unstable/org.hearth.catchup/latest_events"

const (
	// maxLatestEvents bounds a latest_events answer.
	maxLatestEvents = 20
	// catchUpInterval is how seldom one peer is asked: a peer flapping on
	// the relay does not make every room be asked again each time.
	catchUpInterval = 30 * time.Second
	// catchUpParallel is how many rooms are caught up at once, over all peers.
	catchUpParallel = 3
)

// catchUp runs catch-ups in the background, bounded.
type catchUp struct {
	ctx    context.Context    // catch-ups stop when it ends
	cancel context.CancelFunc // called under mu (close)
	wg     sync.WaitGroup
	slots  chan struct{} // one per room being caught up

	mu   sync.Mutex
	last map[spec.ServerName]time.Time // when each peer was last asked; guarded by mu
}

// close stops the catch-ups and waits for them.
func (c *catchUp) close() {
	c.mu.Lock()
	c.cancel()
	c.mu.Unlock()
	c.wg.Wait()
}

func newCatchUp() *catchUp {
	ctx, cancel := context.WithCancel(context.Background())
	return &catchUp{ctx: ctx, cancel: cancel, slots: make(chan struct{}, catchUpParallel), last: map[spec.ServerName]time.Time{}}
}

// startCatchUp catches up with server in the background, unless it was asked
// less than catchUpInterval ago. It never blocks.
func (f *Federation) startCatchUp(server spec.ServerName) {
	c := f.catchUp
	if server == f.id.ServerName {
		return
	}
	now := f.opts.Now()
	c.mu.Lock()
	if c.ctx.Err() != nil { // closed: wg.Add must not race Close's Wait
		c.mu.Unlock()
		return
	}
	if last, ok := c.last[server]; ok && now.Sub(last) < catchUpInterval {
		c.mu.Unlock()
		return
	}
	for s, t := range c.last { // forget peers long gone, so the map stays small
		if now.Sub(t) >= catchUpInterval {
			delete(c.last, s)
		}
	}
	c.last[server] = now
	c.wg.Add(1)
	c.mu.Unlock()
	go func() {
		defer c.wg.Done()
		f.catchUpWith(c.ctx, server)
	}()
}

// catchUpWith catches up every room shared with server, catchUpParallel at a time.
func (f *Federation) catchUpWith(ctx context.Context, server spec.ServerName) {
	c := f.catchUp
	rooms, err := f.rooms.Query.SharedRooms(ctx, server)
	if err != nil {
		log.WithError(err).Warn("catch-up: cannot list shared rooms")
		return
	}
	for _, roomID := range rooms {
		select {
		case c.slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			defer func() { <-c.slots }()
			if err := f.catchUpRoom(ctx, server, roomID); err != nil {
				log.WithError(err).WithField("peer", server).WithField("room_id", roomID).Debug("catch-up failed")
			}
		}()
	}
}

// catchUpRoom asks server for a room's newest events and processes those
// this server lacks, as live events from server.
func (f *Federation) catchUpRoom(ctx context.Context, server spec.ServerName, roomID string) error {
	var resp struct {
		Latest []string `json:"latest_events"`
	}
	if err := f.client.do(ctx, server, "GET", path(catchUpPath, roomID), nil, nil, &resp); err != nil {
		return fmt.Errorf("ask for latest events: %w", err)
	}
	unknown, err := f.rooms.Query.UnknownEvents(ctx, roomID, resp.Latest[:min(len(resp.Latest), maxLatestEvents)])
	if err != nil || len(unknown) == 0 {
		return err
	}
	v, err := f.rooms.Query.RoomVersion(ctx, roomID)
	if err != nil {
		return err
	}
	var errs []error // one bad event does not stop the others
	for _, id := range unknown {
		ev, err := f.fetchEvent(ctx, server, v, roomID, id)
		if err == nil {
			_, err = f.process(ctx, server, room.Incoming{Event: ev, Live: true}, true)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("catch up %s: %w", id, err))
		}
	}
	log.WithField("peer", server).WithField("room_id", roomID).WithField("events", len(unknown)).Debug("caught up")
	return errors.Join(errs...)
}

// latestEvents answers catchUpPath (see above).
func (f *Federation) latestEvents(req *request) (any, error) {
	roomID := req.PathValue("roomId")
	if err := f.requireJoined(req, roomID); err != nil {
		return nil, err
	}
	ids, err := f.rooms.Query.Extremities(req.ctx(), roomID)
	if err != nil {
		return nil, err
	}
	visible, err := f.rooms.Query.VisibleToServer(req.ctx(), roomID, req.origin, ids)
	if err != nil {
		return nil, err
	}
	out := []string{}
	for _, id := range ids {
		if visible[id] && len(out) < maxLatestEvents {
			out = append(out, id)
		}
	}
	if len(out) == 0 && len(ids) > 0 {
		return nil, fmt.Errorf("%w: %s may not see the latest events of %s", ErrNotVisible, req.origin, roomID)
	}
	return map[string]any{"latest_events": out}, nil
}
