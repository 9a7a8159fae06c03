// Package presence is the Go relay's side of /hearth/presence/2.0.0 (the
// wire and its reasons: js/p2p/presence.js). A peer sends the relay its
// watch list, the servers it shares rooms with, and hears which of them are
// present, then their joins and leaves, and nothing about anyone else.
//
// "Present" means dialable through this relay: a peer is listed while it
// holds a reservation and one of its presence streams is open.
package presence

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-msgio"
	"github.com/sirupsen/logrus"
)

// Protocol is the presence protocol's ID.
const Protocol = protocol.ID("/hearth/presence/2.0.0")

const (
	// maxMessageBytes bounds one message either way (a watch list or its answer).
	maxMessageBytes = 256 * 1024
	// MaxWatched is the most peers one subscription may watch.
	MaxWatched = 2048
	// A watch list changes when rooms do; more than maxListsPerWindow lists
	// in watchWindow end the subscription: a flood only costs the relay.
	maxListsPerWindow = 30
	watchWindow       = 10 * time.Second
	// outgoing messages queued for one subscriber before it counts as stuck
	// and is dropped (it resubscribes and hears the whole truth again)
	outQueue = 256
)

// Server answers presence subscriptions on one host.
type Server struct {
	host     host.Host
	reserved func(peer.ID) bool
	log      logrus.FieldLogger
	sent     atomic.Int64

	mu          sync.Mutex
	subscribers map[peer.ID]map[*subscription]struct{}
	listed      map[peer.ID]struct{}
	watchers    map[peer.ID]map[*subscription]struct{}
}

type subscription struct {
	peer    peer.ID
	stream  network.Stream
	out     chan []byte
	watched map[peer.ID]struct{}
	gone    bool
}

// Serve answers the protocol on h. reserved says whether a peer holds a
// reservation; call ReservationChanged whenever its answer changes.
func Serve(h host.Host, reserved func(peer.ID) bool, log logrus.FieldLogger) *Server {
	s := &Server{
		host: h, reserved: reserved, log: log,
		subscribers: map[peer.ID]map[*subscription]struct{}{},
		listed:      map[peer.ID]struct{}{},
		watchers:    map[peer.ID]map[*subscription]struct{}{},
	}
	h.SetStreamHandler(Protocol, s.handle)
	return s
}

// Present lists the peers others are told about.
func (s *Server) Present() []peer.ID {
	s.mu.Lock()
	defer s.mu.Unlock()
	present := make([]peer.ID, 0, len(s.listed))
	for p := range s.listed {
		present = append(present, p)
	}
	return present
}

// MessagesSent counts the messages sent to subscribers so far.
func (s *Server) MessagesSent() int64 { return s.sent.Load() }

// ReservationChanged lists or unlists p to match its reservation.
func (s *Server) ReservationChanged(p peer.ID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reconcile(p)
}

// Close stops answering and ends every subscription.
func (s *Server) Close() {
	s.host.RemoveStreamHandler(Protocol)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, subs := range s.subscribers {
		for sub := range subs {
			sub.stream.Reset()
		}
	}
}

func (s *Server) handle(stream network.Stream) {
	p := stream.Conn().RemotePeer()
	sub := &subscription{peer: p, stream: stream, out: make(chan []byte, outQueue)}
	go s.write(sub)

	s.mu.Lock()
	subs := s.subscribers[p]
	if subs == nil {
		subs = map[*subscription]struct{}{}
		s.subscribers[p] = subs
	}
	// Another open connection of the same peer ID is another live copy of its
	// server (a restarting peer resubscribes over the same connection).
	copies := 0
	for other := range subs {
		if other.stream.Conn() != stream.Conn() && !other.stream.Conn().IsClosed() {
			copies++
		}
	}
	subs[sub] = struct{}{}
	first := map[string]any{"peers": []string{}}
	if copies > 0 {
		first["copies"] = copies
	}
	s.send(sub, first)
	s.reconcile(p)
	s.mu.Unlock()

	err := s.readWatchLists(sub)
	if err != nil && s.log != nil {
		s.log.Debugf("relay: presence of %s ended: %v", p, err)
	}
	s.leave(sub)
}

// readWatchLists reads watch lists until the subscriber ends its side.
func (s *Server) readWatchLists(sub *subscription) error {
	reader := msgio.NewVarintReaderSize(sub.stream, maxMessageBytes)
	var recent []time.Time
	for {
		msg, err := reader.ReadMsg()
		if err != nil {
			return err
		}
		watched, err := parseWatch(msg)
		reader.ReleaseMsg(msg)
		if err != nil {
			return err
		}
		recent = append(recent, time.Now())
		if len(recent) > maxListsPerWindow {
			if recent[len(recent)-1].Sub(recent[0]) < watchWindow {
				return errors.New("watch lists too often")
			}
			recent = recent[1:]
		}
		s.mu.Lock()
		s.setWatched(sub, watched)
		present := []string{}
		for p := range watched {
			if _, ok := s.listed[p]; ok && p != sub.peer {
				present = append(present, p.String())
			}
		}
		s.send(sub, map[string]any{"peers": present})
		s.mu.Unlock()
	}
}

func (s *Server) leave(sub *subscription) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sub.gone {
		return
	}
	sub.gone = true
	close(sub.out)
	s.setWatched(sub, nil)
	subs := s.subscribers[sub.peer]
	delete(subs, sub)
	if len(subs) == 0 {
		delete(s.subscribers, sub.peer)
		s.reconcile(sub.peer)
	}
}

// reconcile lists or unlists p to match its subscriptions and reservation,
// telling its watchers. Called with s.mu held.
func (s *Server) reconcile(p peer.ID) {
	_, subscribed := s.subscribers[p]
	shouldList := subscribed && s.reserved(p)
	if _, listed := s.listed[p]; listed == shouldList {
		return
	}
	message := map[string]string{"leave": p.String()}
	if shouldList {
		s.listed[p] = struct{}{}
		message = map[string]string{"join": p.String()}
	} else {
		delete(s.listed, p)
	}
	for sub := range s.watchers[p] {
		s.send(sub, message)
	}
	if s.log != nil {
		verb := "left"
		if shouldList {
			verb = "joined"
		}
		s.log.Infof("relay: peer %s %s (%d online)", verb, p, len(s.listed))
	}
}

// setWatched replaces what one subscription watches (nil: nothing). Called with s.mu held.
func (s *Server) setWatched(sub *subscription, watched map[peer.ID]struct{}) {
	for p := range sub.watched {
		if set := s.watchers[p]; set != nil {
			delete(set, sub)
			if len(set) == 0 {
				delete(s.watchers, p)
			}
		}
	}
	sub.watched = watched
	for p := range watched {
		if s.watchers[p] == nil {
			s.watchers[p] = map[*subscription]struct{}{}
		}
		s.watchers[p][sub] = struct{}{}
	}
}

// send queues a message for one subscriber. Called with s.mu held. A
// subscriber whose queue is full is not reading: its stream is reset, which
// ends its subscription, rather than holding the relay's memory.
func (s *Server) send(sub *subscription, message any) {
	if sub.gone {
		return
	}
	body, err := json.Marshal(message)
	if err != nil {
		return
	}
	select {
	case sub.out <- body:
		s.sent.Add(1)
	default:
		sub.stream.Reset()
	}
}

// write sends a subscriber's messages in order; once leave closes its queue
// and what was queued is sent, it closes the stream.
func (s *Server) write(sub *subscription) {
	writer := msgio.NewVarintWriter(sub.stream)
	for body := range sub.out {
		if err := writer.WriteMsg(body); err != nil {
			sub.stream.Reset()
			for range sub.out {
				// drained until leave closes it
			}
			return
		}
	}
	sub.stream.Close()
}

// parseWatch reads {"watch": [peer IDs]}: at most MaxWatched strings. Strings
// that are not peer IDs are kept out of the set (no peer has them).
func parseWatch(msg []byte) (map[peer.ID]struct{}, error) {
	var message struct {
		Watch *[]string `json:"watch"`
	}
	if err := json.Unmarshal(msg, &message); err != nil {
		return nil, fmt.Errorf("a watch message is not JSON: %w", err)
	}
	if message.Watch == nil || len(*message.Watch) > MaxWatched {
		return nil, fmt.Errorf("a watch message must name at most %d peer IDs", MaxWatched)
	}
	watched := make(map[peer.ID]struct{}, len(*message.Watch))
	for _, text := range *message.Watch {
		if p, err := peer.Decode(text); err == nil {
			watched[p] = struct{}{}
		}
	}
	return watched, nil
}
