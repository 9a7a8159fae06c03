// Package federation is the Matrix server-server API of one server: X-Matrix
// signing and checking of every request, the federation route table, joins,
// invites and leaves across servers, transactions in and out (a persisted
// queue per destination; sealed in the destination's mailbox on a relay when
// it cannot be reached, deposit.go; mail for us, mail.go), and fetching what
// is missing (get_missing_events, state, backfill, and catch-up from any
// online member of a room, catchup.go). The room rules themselves live in package room; this
// package checks hashes, signatures and who may ask, and moves events.
// EDUs, in and out, are all here (edu.go: typing, receipts, presence,
// to-device messages, device lists).
// It also answers, and asks, for users' end-to-end keys (e2ekeys.go),
// media (media.go) and profiles (profile.go); package keys checks what
// comes back for keys, package media caches what comes back for media.
//
// Servers are addressed by name over an injected http.RoundTripper (see
// Scheme); a server's signing key is read from its name (package identity).
package federation

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"
	"github.com/sirupsen/logrus"

	"hearth/go/account"
	"hearth/go/ephemeral"
	"hearth/go/errcode"
	"hearth/go/httproute"
	"hearth/go/identity"
	"hearth/go/keys"
	"hearth/go/media"
	"hearth/go/room"
)

var log = logrus.WithField("component", "federation")

// Federation is the federation side of one server.
type Federation struct {
	id identity.Identity
	// rooms: every role is used: Input for other servers' events, Perform
	// for joins, leaves and invites across servers, Query for the rest.
	rooms  *room.Rooms
	client *Client
	queue  *Queue
	// opts has every function field set: New fills the nil ones with defaults.
	opts Options

	mu sync.Mutex
	// directoryMisses holds when each peer last failed to list its public
	// rooms; guarded by mu.
	directoryMisses map[spec.ServerName]time.Time

	catchUp *catchUp
	// mail serves the transactions that come in envelopes (mail.go).
	mail http.Handler
	// mailMu makes ReceiveMail apply one envelope at a time.
	mailMu sync.Mutex
}

// Options configure Federation; zero values mean production defaults.
type Options struct {
	Now func() time.Time // nil: time.Now
	// EDU is told of each EDU received, once applied (typing and receipts
	// only when they passed their checks); nil: nobody is.
	EDU func(origin spec.ServerName, edu gomatrixserverlib.EDU)
	// Ephemeral takes other servers' typing, receipts and presence (edu.go);
	// nil drops them.
	Ephemeral *ephemeral.Ephemeral
	// RequestPeer returns the peer an incoming request came from, as the
	// transport knows it ("" when unknown, as for in-process requests). When
	// known, it must be the X-Matrix origin: a second check beside the
	// signature. In the browser: bridge.PeerFromContext. Nil: never known.
	RequestPeer func(context.Context) string
	// Peers lists the servers the transport reaches now (in the browser:
	// bridge.KnownPeers); the public room directory asks them too. Nil: none.
	Peers func() []string
	// LocalAlias resolves a room alias of this server to its room (the local
	// alias table); found is false for an unknown alias. Nil: none known.
	LocalAlias func(ctx context.Context, alias string) (roomID string, found bool, err error)
	// Keys answers user/keys/query and user/keys/claim for this server's
	// users, and takes other servers' to-device messages and device list
	// updates (edu.go); nil: 404, and those EDUs are dropped.
	Keys *keys.Keys
	// Media serves this server's media (media/download); nil: 404.
	Media *media.Store
	// Accounts answers query/profile for this server's users and whether an
	// invited user exists; nil: 404, and every invite is refused.
	Accounts *account.Accounts
}

// New returns the federation side of the server with identity id. The queue
// must be the one whose Outbox the room store was given.
func New(id identity.Identity, rooms *room.Rooms, client *Client, queue *Queue, opts Options) *Federation {
	if opts.Peers == nil {
		opts.Peers = func() []string { return nil }
	}
	if opts.LocalAlias == nil {
		opts.LocalAlias = func(context.Context, string) (string, bool, error) { return "", false, nil }
	}
	if opts.RequestPeer == nil {
		opts.RequestPeer = func(context.Context) string { return "" }
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.EDU == nil {
		opts.EDU = func(spec.ServerName, gomatrixserverlib.EDU) {}
	}
	f := &Federation{id: id, rooms: rooms, client: client, queue: queue, opts: opts,
		directoryMisses: map[spec.ServerName]time.Time{}, catchUp: newCatchUp()}
	f.mail = f.mailRoutes()
	return f
}

// PeerOnline tells the federation that a peer is reachable (again): the
// libp2p layer saw it connect, or listed it at start. Its queue is retried at
// once, and the rooms shared with it are caught up from it in the background
// (catchup.go). It never blocks.
func (f *Federation) PeerOnline(server spec.ServerName) {
	f.queue.Kick(server)
	f.startCatchUp(server)
}

// Close stops the background catch-ups and waits for them. The queue is
// closed by its owner.
func (f *Federation) Close() { f.catchUp.close() }

// route is one line of the route table: method, path, whether the request
// must be signed (X-Matrix) by its origin, and the method that answers.
type route struct {
	method, path string
	acc          access
	answer       func(*Federation, *request) (any, error)
}

// routes is the federation API's route table, one route a line (data, as the
// client API's is, for the same reason).
var routes = [...]route{
	{"GET", "/_matrix/key/v2/server", public, (*Federation).serverKeys},
	{"GET", "/_matrix/federation/v1/version", public, (*Federation).version},

	{"PUT", "/_matrix/federation/v1/send/{txnId}", signed, (*Federation).send},
	{"GET", "/_matrix/federation/v1/make_join/{roomId}/{userId}", signed, (*Federation).makeJoin},
	{"PUT", "/_matrix/federation/v2/send_join/{roomId}/{eventId}", signed, (*Federation).sendJoin},
	{"GET", "/_matrix/federation/v1/make_leave/{roomId}/{userId}", signed, (*Federation).makeLeave},
	{"PUT", "/_matrix/federation/v2/send_leave/{roomId}/{eventId}", signed, (*Federation).sendLeave},
	{"PUT", "/_matrix/federation/v2/invite/{roomId}/{eventId}", signed, (*Federation).invite},

	{"POST", "/_matrix/federation/v1/get_missing_events/{roomId}", signed, (*Federation).getMissingEvents},
	{"GET", "/_matrix/federation/v1/backfill/{roomId}", signed, (*Federation).backfill},
	{"GET", "/_matrix/federation/v1/state/{roomId}", signed, (*Federation).state},
	{"GET", "/_matrix/federation/v1/state_ids/{roomId}", signed, (*Federation).stateIDs},
	{"GET", "/_matrix/federation/v1/event/{eventId}", signed, (*Federation).event},
	{"GET", "/_matrix/federation/v1/event_auth/{roomId}/{eventId}", signed, (*Federation).eventAuth},
	{"GET", catchUpPath + "/{roomId}", signed, (*Federation).latestEvents},

	{"POST", "/_matrix/federation/v1/user/keys/query", signed, (*Federation).userKeysQuery},
	{"POST", "/_matrix/federation/v1/user/keys/claim", signed, (*Federation).userKeysClaim},
	{"GET", "/_matrix/federation/v1/media/download/{mediaId}", signed, (*Federation).mediaDownload},
	{"GET", "/_matrix/federation/v1/query/profile", signed, (*Federation).queryProfile},

	{"GET", "/_matrix/federation/v1/query/directory", signed, (*Federation).queryDirectory},
	{"GET", "/_matrix/federation/v1/publicRooms", signed, (*Federation).publicRooms},
	{"POST", "/_matrix/federation/v1/publicRooms", signed, (*Federation).publicRooms},
}

// Handler returns the federation and key APIs (/_matrix/federation/*,
// /_matrix/key/*), routes and what no route names.
func (f *Federation) Handler() http.Handler {
	mux := http.NewServeMux()
	for _, r := range routes {
		httproute.Handle(mux, r.method+" "+r.path, f.serve(r.acc, f.bind(r.answer)))
	}
	httproute.Handle(mux, "/_matrix/federation/", f.serve(public, unrecognized))
	httproute.Handle(mux, "/_matrix/key/", f.serve(public, unrecognized))
	return mux
}

// bind makes a route's method a handler of this server.
func (f *Federation) bind(answer func(*Federation, *request) (any, error)) handler {
	return func(req *request) (any, error) { return answer(f, req) }
}

func (f *Federation) version(*request) (any, error) {
	return map[string]any{"server": map[string]string{"name": "Hearth", "version": "0.1"}}, nil
}

func (f *Federation) serverKeys(*request) (any, error) {
	return serverKeys(f.id, f.opts.Now())
}

func unrecognized(req *request) (any, error) {
	return nil, errcode.New(http.StatusNotFound, "M_UNRECOGNIZED", "unrecognized request: "+req.Method+" "+req.URL.Path)
}

// ctx is shorthand for the request's context.
func (req *request) ctx() context.Context { return req.Context() }

// Pending returns how many PDUs and EDUs wait to be sent to server.
func (f *Federation) Pending(ctx context.Context, server spec.ServerName) (int, error) {
	return f.queue.Pending(ctx, server)
}
