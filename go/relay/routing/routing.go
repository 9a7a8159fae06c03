// Package routing is the Go relay's side of /hearth/routing/1.0.0: relays
// linked into one network, and "where is peer X" answered across them. Same
// wire as the JavaScript relay (js/relay/links.js, js/p2p/routing.js).
//
// A relay started with Peers (RELAY_PEERS) dials each of them and says "link"
// with its own addresses; the other relay links back by dialing the announced
// addresses (so noise proves whose they are), and both answer with the relays
// they are linked with, again every few seconds, so a chain of RELAY_PEERS
// becomes a full mesh. A link is kept while its connection is open and
// redialed with backoff when it closes; only relays connected now are given
// to peers. A relay we were told of (not configured) and cannot reach for a
// while is forgotten; configured ones are redialed for ever.
package routing

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-msgio"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/sirupsen/logrus"
)

const (
	// maxLinks is MAX_LINKS: each lookup asks every linked relay.
	maxLinks = 32
	// dialTimeout is DEFAULTS.dialTimeout: one exchange with a relay, dial included.
	dialTimeout = 5 * time.Second
	// defaultLookupTimeout is DEFAULTS.lookupTimeout.
	defaultLookupTimeout = 1500 * time.Millisecond
	// maxInboundStreams is the JS handler's maxInboundStreams, per connection.
	maxInboundStreams = 32
)

// Variables rather than constants so tests can shorten them.
var (
	linkRetryMin = 500 * time.Millisecond
	linkRetryMax = 10 * time.Second
	// forgetAfter is how long a relay we were told of may stay unreachable.
	forgetAfter = 60 * time.Second
	// linkRefresh is how often a live link says "link" again: the answer
	// carries relays linked since.
	linkRefresh = 5 * time.Second
)

// Options for Start.
type Options struct {
	// Peers are the relays to link with (RELAY_PEERS), each ending in /p2p/<id>.
	Peers []ma.Multiaddr
	// Reserved says whether a peer holds a reservation on this relay now.
	Reserved func(peer.ID) bool
	// KeepsMailFor says whether this relay's mailbox takes mail for a peer (nil: no mailbox).
	KeepsMailFor func(peer.ID) bool
	// LookupTimeout bounds how long a lookup waits for linked relays (default 1.5 s).
	LookupTimeout time.Duration
	Log           logrus.FieldLogger
}

// Links holds the links with other relays and answers the protocol.
type Links struct {
	h             host.Host
	opts          Options
	lookupTimeout time.Duration
	log           logrus.FieldLogger
	notifee       network.Notifiee

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // link goroutines and requests being answered
	found  atomic.Int64

	mu      sync.Mutex
	closed  bool
	links   []*link        // in the order they were made, as JS's Map keeps them
	inbound map[string]int // requests being answered, per connection
}

// link is one relay we link (or try to link) with.
type link struct {
	id         peer.ID
	addrs      []ma.Multiaddr // all ending in /p2p/<id>
	configured bool           // in Peers: never forgotten
	gone       chan struct{}  // a connection to the relay closed

	// under Links.mu
	up        bool
	downSince time.Time
}

// Start answers the protocol on h and links with opts.Peers.
func Start(h host.Host, opts Options) (*Links, error) {
	var peers [][]ma.Multiaddr
	for _, p := range opts.Peers {
		a, ok := RelayAddr(p.String())
		if !ok {
			return nil, fmt.Errorf("routing: RELAY_PEERS: %s is not a relay multiaddr ending in /p2p/<peer ID>", p)
		}
		peers = append(peers, []ma.Multiaddr{a})
	}
	l := &Links{h: h, opts: opts, lookupTimeout: opts.LookupTimeout, log: opts.Log, inbound: map[string]int{}}
	if l.lookupTimeout <= 0 {
		l.lookupTimeout = defaultLookupTimeout
	}
	if l.log == nil {
		quiet := logrus.New()
		quiet.Out = io.Discard
		l.log = quiet
	}
	l.ctx, l.cancel = context.WithCancel(context.Background())
	l.notifee = &network.NotifyBundle{DisconnectedF: l.disconnected}
	h.Network().Notify(l.notifee)
	h.SetStreamHandler(ProtocolID, l.serve)
	for _, addrs := range peers {
		l.ensureLink(addrs, true)
	}
	return l, nil
}

// Linked returns the addresses of the linked relays up now.
func (l *Links) Linked() []ma.Multiaddr { return l.linkedAddrs("") }

// Lookups counts the "find" requests answered so far.
func (l *Links) Lookups() int64 { return l.found.Load() }

// Close stops linking and answering, and returns once nothing of it runs.
func (l *Links) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	l.mu.Unlock()
	l.h.RemoveStreamHandler(ProtocolID)
	l.h.Network().StopNotify(l.notifee)
	l.cancel()
	l.wg.Wait()
	return nil
}

// ownAddrs are this relay's addresses, each ending in its /p2p/ID.
func (l *Links) ownAddrs() []string {
	self, err := ma.NewComponent("p2p", l.h.ID().String())
	if err != nil {
		panic(fmt.Sprintf("routing: own peer ID %s: %v", l.h.ID(), err))
	}
	out := []string{}
	for _, a := range l.h.Addrs() {
		out = append(out, a.Encapsulate(self).String())
	}
	return out
}

// isUp: linked, and connected now (so a dead relay stops being offered at once).
func (l *Links) isUp(lk *link, up bool) bool {
	return up && l.h.Network().Connectedness(lk.id) == network.Connected
}

// upLinks are the links up now, except the one with except.
func (l *Links) upLinks(except peer.ID) []*link {
	l.mu.Lock()
	var snapshot []*link
	for _, lk := range l.links {
		if lk.up && lk.id != except {
			snapshot = append(snapshot, lk)
		}
	}
	l.mu.Unlock()
	// Connectedness outside l.mu: the swarm's locks are never taken under ours
	return slices.DeleteFunc(snapshot, func(lk *link) bool { return !l.isUp(lk, true) })
}

func (l *Links) linkedAddrs(except peer.ID) []ma.Multiaddr {
	var addrs []ma.Multiaddr
	for _, lk := range l.upLinks(except) {
		addrs = append(addrs, lk.addrs...)
	}
	return addrs
}

// lookup returns the link with id, nil if none; under l.mu.
func (l *Links) lookup(id peer.ID) *link {
	for _, lk := range l.links {
		if lk.id == id {
			return lk
		}
	}
	return nil
}

// ensureLink starts linking with the relay addrs[0] ends in, unless it is
// this one, already known, or one too many.
func (l *Links) ensureLink(addrs []ma.Multiaddr, configured bool) {
	id := relayIDOf(addrs[0])
	if id == "" || id == l.h.ID() {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed || l.lookup(id) != nil {
		return
	}
	if len(l.links) >= maxLinks {
		l.log.Warnf("relay: not linking with %s: already linked with %d relays", id, maxLinks)
		return
	}
	lk := &link{id: id, configured: configured, gone: make(chan struct{}, 1), downSince: time.Now()}
	for _, a := range addrs {
		if relayIDOf(a) == id {
			lk.addrs = append(lk.addrs, a)
		}
	}
	l.links = append(l.links, lk)
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		l.keep(lk)
	}()
}

// disconnected tells the link with that relay, if any, to look at its connection.
func (l *Links) disconnected(_ network.Network, c network.Conn) {
	l.mu.Lock()
	lk := l.lookup(c.RemotePeer())
	l.mu.Unlock()
	if lk != nil {
		select {
		case lk.gone <- struct{}{}:
		default: // already told
		}
	}
}

// keep holds the link with one relay: link, wait for its connection to
// close, link again, until Close or until the relay is forgotten.
func (l *Links) keep(lk *link) {
	delay := linkRetryMin
	for l.ctx.Err() == nil {
		linked, err := l.hold(lk)
		if linked {
			delay = linkRetryMin
		}
		if l.ctx.Err() != nil {
			return
		}
		l.mu.Lock()
		wasUp := lk.up
		if wasUp {
			lk.downSince = time.Now()
		}
		lk.up = false
		// one we were told of and cannot reach for a while is forgotten
		forget := !lk.configured && time.Since(lk.downSince) > forgetAfter
		if forget {
			l.links = slices.DeleteFunc(l.links, func(x *link) bool { return x == lk })
		}
		l.mu.Unlock()
		switch {
		case err == nil:
			l.log.Warnf("relay: lost the link with relay %s, redialing", lk.id)
		case wasUp:
			l.log.Warnf("relay: link with relay %s failed: %v", lk.id, err)
		}
		if forget {
			l.log.Infof("relay: forgot relay %s: unreachable for %g s", lk.id, forgetAfter.Seconds())
			return
		}
		select {
		case <-l.ctx.Done():
			return
		case <-time.After(delay):
		}
		delay = min(delay*2, linkRetryMax)
	}
}

// hold says "link" to the relay, then again every linkRefresh while its
// connection stays open. It returns whether the first "link" was answered,
// and nil once the connection is gone or the error that ended the link.
func (l *Links) hold(lk *link) (linked bool, err error) {
	answer, err := l.askLink(lk)
	if err != nil {
		return false, err
	}
	l.mu.Lock()
	first := !lk.up
	lk.up = true
	l.mu.Unlock()
	if first {
		l.log.Infof("relay: linked with relay %s", lk.id)
	}
	for {
		l.learn(answer)
		if l.waitGone(lk) || l.ctx.Err() != nil {
			return true, nil
		}
		if answer, err = l.askLink(lk); err != nil {
			return true, err
		}
	}
}

// waitGone waits up to linkRefresh for the connection to the relay to close.
func (l *Links) waitGone(lk *link) bool {
	refresh := time.NewTimer(linkRefresh)
	defer refresh.Stop()
	for {
		if l.h.Network().Connectedness(lk.id) != network.Connected {
			return true
		}
		select {
		case <-l.ctx.Done():
			return false
		case <-refresh.C:
			return false
		case <-lk.gone: // look again: another connection may remain
		}
	}
}

func (l *Links) askLink(lk *link) (message, error) {
	// Our own backoff paces redials (as in JS), not the swarm's, whose
	// backoff grows to minutes and would keep a restarted relay unlinked.
	ctx := network.WithForceDirectDial(l.ctx, "relay link")
	ctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	return ask(ctx, l.h, lk.addrs, linkRequest{Op: "link", Addrs: l.ownAddrs()})
}

// learn links with the relays an answer names.
func (l *Links) learn(answer message) {
	for _, a := range relayAddrsFrom(answer["relays"]) {
		l.ensureLink([]ma.Multiaddr{a}, false)
	}
}

type linkRequest struct {
	Op    string   `json:"op"`
	Addrs []string `json:"addrs"`
}

type findRequest struct {
	Op   string `json:"op"`
	Peer string `json:"peer"`
}

type relaysAnswer struct {
	Relays []string `json:"relays"`
}

type findAnswer struct {
	Reserved []string `json:"reserved"`
	Mailbox  []string `json:"mailbox"`
}

type errorAnswer struct {
	Error string `json:"error"`
}

// serve answers one request on a stream, bounded by dial timeout + lookup timeout.
func (l *Links) serve(s network.Stream) {
	conn := s.Conn().ID()
	if !l.enter(conn) {
		_ = s.Reset()
		return
	}
	defer l.leave(conn)
	stopReset := context.AfterFunc(l.ctx, func() { _ = s.Reset() })
	defer stopReset()
	timeout := dialTimeout + l.lookupTimeout
	_ = s.SetDeadline(time.Now().Add(timeout))
	ctx, cancel := context.WithTimeout(l.ctx, timeout)
	defer cancel()

	from := s.Conn().RemotePeer()
	b, err := msgio.NewVarintReaderSize(s, maxMessageBytes).ReadMsg()
	var request message
	if err == nil {
		request, err = parseMessage(b)
	}
	if err != nil {
		l.log.Debugf("relay: routing request from %s failed: %v", from, err)
		_ = s.Reset()
		return
	}
	reply, err := l.answer(ctx, request, from)
	if err != nil {
		reply = errorAnswer{Error: err.Error()}
	}
	if err := msgio.NewVarintWriter(s).WriteMsg(encodeJSON(reply)); err != nil {
		l.log.Debugf("relay: routing request from %s failed: %v", from, err)
		_ = s.Reset()
		return
	}
	_ = s.Close()
}

// enter counts a request in, unless closed or its connection has too many.
func (l *Links) enter(conn string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed || l.inbound[conn] >= maxInboundStreams {
		return false
	}
	l.inbound[conn]++
	l.wg.Add(1)
	return true
}

func (l *Links) leave(conn string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.inbound[conn]--; l.inbound[conn] <= 0 {
		delete(l.inbound, conn)
	}
	l.wg.Done()
}

// answer is the reply to one request; an error becomes {"error": …}.
func (l *Links) answer(ctx context.Context, request message, from peer.ID) (any, error) {
	op, _ := request.str("op") // "" unless a string: matches no op
	switch op {
	case "relays":
		return relaysAnswer{Relays: addrStrings(l.linkedAddrs(from))}, nil
	case "find":
		s, _ := request.str("peer")
		id, err := peer.Decode(s)
		if err != nil {
			return nil, errors.New("find: peer must be a peer ID")
		}
		return l.find(ctx, id, from), nil
	case "link":
		var addrs []ma.Multiaddr
		for _, a := range relayAddrsFrom(request["addrs"]) {
			if relayIDOf(a) == from {
				addrs = append(addrs, a)
			}
		}
		if len(addrs) == 0 {
			return nil, errors.New("link: addrs must be the linking relay's own addresses")
		}
		l.ensureLink(addrs, false)
		return relaysAnswer{Relays: addrStrings(l.linkedAddrs(from))}, nil
	default:
		return nil, fmt.Errorf("unknown op %s", encodeJSON(truncate(jsString(request["op"]), 40)))
	}
}

// jsString is roughly JS's String(value) for an op that is not one we know.
func jsString(raw []byte) string {
	if raw == nil {
		return "undefined"
	}
	var v any
	_ = json.Unmarshal(raw, &v)
	switch v := v.(type) {
	case string:
		return v
	case map[string]any:
		return "[object Object]"
	}
	return string(raw) // null, booleans, numbers; arrays in their JSON form
}

// find is where peer id is: here from our own tables, on the linked relays
// by asking each of them at once. A linked relay asking gets this relay's
// answer only, so a lookup never goes further than one hop between relays.
func (l *Links) find(ctx context.Context, id, from peer.ID) findAnswer {
	l.found.Add(1)
	here := findAnswer{Reserved: []string{}, Mailbox: []string{}}
	if l.opts.Reserved != nil && l.opts.Reserved(id) {
		here.Reserved = l.ownAddrs()
	}
	if l.opts.KeepsMailFor != nil && l.opts.KeepsMailFor(id) {
		here.Mailbox = l.ownAddrs()
	}
	l.mu.Lock()
	fromLinked := l.lookup(from) != nil
	l.mu.Unlock()
	if fromLinked {
		return here
	}

	asked := l.upLinks("")
	answers := make([]message, len(asked))
	ctx, cancel := context.WithTimeout(ctx, l.lookupTimeout)
	defer cancel()
	var wg sync.WaitGroup
	for i, lk := range asked {
		wg.Go(func() {
			answers[i], _ = ask(ctx, l.h, lk.addrs, findRequest{Op: "find", Peer: id.String()})
		})
	}
	wg.Wait()

	// a relay answers for itself: addresses of others in its answer are dropped
	for i, answer := range answers {
		for _, a := range relayAddrsFrom(answer["reserved"]) {
			if relayIDOf(a) == asked[i].id && !slices.Contains(here.Reserved, a.String()) {
				here.Reserved = append(here.Reserved, a.String())
			}
		}
		for _, a := range relayAddrsFrom(answer["mailbox"]) {
			if relayIDOf(a) == asked[i].id && !slices.Contains(here.Mailbox, a.String()) {
				here.Mailbox = append(here.Mailbox, a.String())
			}
		}
	}
	return here
}
