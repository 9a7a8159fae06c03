package relay

import (
	"sync"

	"github.com/libp2p/go-libp2p/core/connmgr"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// reservationTag is the tag go-libp2p's relay puts on a peer when it grants
// a reservation and takes off when the reservation expires.
const reservationTag = "relay-reservation"

// reservations tells who holds a reservation, and when that changes, so
// presence lists exactly the peers that are dialable. go-libp2p's relay has
// no event for either; it tags a peer in the connection manager when it
// grants one and untags it at expiry, and drops it (without untagging) when
// the peer's last connection closes. So this wraps the connection manager
// to see the tags, and watches disconnections for the rest.
type reservations struct {
	connmgr.NullConnMgr // the relay trims nothing: limits are counts (limits.go)

	mu       sync.Mutex
	held     map[peer.ID]struct{}
	onChange func(peer.ID)
	network  network.Network
}

func newReservations() *reservations {
	return &reservations{held: map[peer.ID]struct{}{}}
}

// watch starts reporting changes to onChange, and disconnections on n.
func (r *reservations) watch(n network.Network, onChange func(peer.ID)) {
	r.mu.Lock()
	r.onChange = onChange
	r.network = n
	r.mu.Unlock()
	n.Notify(&network.NotifyBundle{DisconnectedF: func(n network.Network, c network.Conn) {
		if n.Connectedness(c.RemotePeer()) != network.Connected {
			r.set(c.RemotePeer(), false)
		}
	}})
}

// Has says whether p holds a reservation now.
func (r *reservations) Has(p peer.ID) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.held[p]
	return ok
}

// TagPeer is how the relay says it granted (or refreshed) a reservation.
func (r *reservations) TagPeer(p peer.ID, tag string, _ int) {
	if tag == reservationTag {
		r.set(p, true)
	}
}

// UntagPeer is how the relay says a reservation expired.
func (r *reservations) UntagPeer(p peer.ID, tag string) {
	if tag == reservationTag {
		r.set(p, false)
	}
}

func (r *reservations) set(p peer.ID, held bool) {
	r.mu.Lock()
	_, had := r.held[p]
	// a grant racing the peer's last disconnect: the relay dropped it too
	if held && r.network != nil && r.network.Connectedness(p) != network.Connected {
		held = false
	}
	if held {
		r.held[p] = struct{}{}
	} else {
		delete(r.held, p)
	}
	onChange := r.onChange
	r.mu.Unlock()
	if had != held && onChange != nil {
		onChange(p)
	}
}
