// Package routing is the Go relay's side of /hearth/routing/1.0.0: relays
// linked into one network, and "where is peer X" answered across them. Same
// wire as the JavaScript relay (js/relay/links.js, js/p2p/routing.js).
package routing

import (
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/sirupsen/logrus"
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
type Links struct{}

// Start answers the protocol on h and links with opts.Peers.
func Start(h host.Host, opts Options) (*Links, error) { panic("not built yet") }

// Linked returns the addresses of the linked relays up now.
func (l *Links) Linked() []ma.Multiaddr { panic("not built yet") }

// Lookups counts the "find" requests answered so far.
func (l *Links) Lookups() int64 { panic("not built yet") }

// Close stops linking and answering.
func (l *Links) Close() error { panic("not built yet") }
