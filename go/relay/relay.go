package relay

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	circuit "github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/relay"
	"github.com/libp2p/go-libp2p/p2p/transport/websocket"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/sirupsen/logrus"

	"hearth/go/relay/mailbox"
	"hearth/go/relay/presence"
	"hearth/go/relay/routing"
)

// Limits bound what one relay holds. Defaults and reasons: DefaultLimits,
// and DEFAULT_RELAY_LIMITS in js/relay/index.js, which these mirror.
type Limits struct {
	MaxReservations       int
	MaxReservationsPerIP  int // per IP address (go-libp2p's rule; IPv6 too)
	MaxConnections        int
	MaxConnectionsPerIP   int // IPv4 per address, IPv6 per /64
	MaxConnectionsPerPeer int
	MaxHopStreams         int // relayed connections one peer may have open at once
	ReservationTTL        time.Duration
	DataLimit             int64         // bytes per relayed connection; 0: none
	DurationLimit         time.Duration // per relayed connection; 0: none
	// The byte rate one peer may send through its relayed connections, all
	// together, and the burst it may send at full speed first (throttle.go).
	MaxRelayedBytesPerSecondPerPeer int
	MaxRelayedBurstBytesPerPeer     int
}

// DefaultLimits are the JavaScript relay's. No data or duration limit per
// relayed connection: Hearth peers keep one open per pair for as long as
// both are online (go-libp2p's default, 128 KiB and 2 min, cuts federation
// mid-request).
func DefaultLimits() Limits {
	return Limits{
		MaxReservations: 256, MaxReservationsPerIP: 32,
		MaxConnections: 1024, MaxConnectionsPerIP: 64, MaxConnectionsPerPeer: 4,
		MaxHopStreams:  256,
		ReservationTTL: 2 * time.Hour,
		// the burst holds the largest federation body (16 MiB), so one media
		// upload or a catch-up after a quiet spell is not paced
		MaxRelayedBytesPerSecondPerPeer: 4 << 20, MaxRelayedBurstBytesPerPeer: 16 << 20,
	}
}

// Config says where a relay listens and what it serves.
type Config struct {
	Host string // interface; default 127.0.0.1
	Port int    // 0: any free port
	// Key keeps the relay's peer ID, and so its address, across restarts; nil: a new one.
	Key     crypto.PrivKey
	Limits  Limits
	Mailbox *mailbox.Options // nil: no mailbox
	// Peers are other relays to link with (RELAY_PEERS).
	Peers []ma.Multiaddr
	Log   logrus.FieldLogger
}

// Relay is a running relay.
type Relay struct {
	host         host.Host
	reservations *reservations
	circuit      *circuit.Relay
	throttle     *throttle
	stopPruning  context.CancelFunc
	presence     *presence.Server
	mailbox      *mailbox.Mailbox
	links        *routing.Links
}

// Start listens and serves until Close.
func Start(cfg Config) (*Relay, error) {
	if cfg.Host == "" {
		cfg.Host = "127.0.0.1"
	}
	if cfg.Log == nil {
		cfg.Log = logrus.StandardLogger()
	}
	key := cfg.Key
	if key == nil {
		var err error
		if key, _, err = crypto.GenerateEd25519Key(nil); err != nil {
			return nil, fmt.Errorf("relay key: %w", err)
		}
	}
	resources, err := resourceManager(cfg.Limits)
	if err != nil {
		return nil, err
	}
	listen, err := listenAddr(cfg.Host, cfg.Port)
	if err != nil {
		return nil, err
	}
	r := &Relay{reservations: newReservations()}
	r.host, err = libp2p.New(
		libp2p.Identity(key),
		libp2p.NoTransports,
		libp2p.Transport(websocket.New),
		libp2p.ListenAddrs(listen),
		libp2p.ResourceManager(resources),
		libp2p.ConnectionManager(r.reservations),
		libp2p.DisableRelay(), // a relay is not reached through other relays
	)
	if err != nil {
		return nil, fmt.Errorf("relay host: %w", err)
	}
	r.throttle = newThrottle(cfg.Limits.MaxRelayedBytesPerSecondPerPeer, cfg.Limits.MaxRelayedBurstBytesPerPeer)
	var pruning context.Context
	pruning, r.stopPruning = context.WithCancel(context.Background())
	go r.throttle.pruneEvery(pruning, time.Minute)
	// started here rather than with libp2p.EnableRelayService, which would
	// wait for AutoNAT to call the relay reachable and give it the plain host
	r.circuit, err = circuit.New(&throttledHost{Host: r.host, throttle: r.throttle}, circuit.WithResources(relayResources(cfg.Limits)))
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("relay service: %w", err)
	}
	r.presence = presence.Serve(r.host, r.reservations.Has, cfg.Log)
	r.reservations.watch(r.host.Network(), r.presence.ReservationChanged)
	keepsMailFor := func(peer.ID) bool { return false }
	if cfg.Mailbox != nil {
		if r.mailbox, err = mailbox.Start(r.host, *cfg.Mailbox, cfg.Log); err != nil {
			r.Close()
			return nil, fmt.Errorf("relay mailbox: %w", err)
		}
		keepsMailFor = r.mailbox.KeepsMailFor
	}
	r.links, err = routing.Start(r.host, routing.Options{
		Peers: cfg.Peers, Reserved: r.reservations.Has, KeepsMailFor: keepsMailFor, Log: cfg.Log,
	})
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("relay links: %w", err)
	}
	return r, nil
}

// ID is the relay's peer ID.
func (r *Relay) ID() peer.ID { return r.host.ID() }

// Addrs are the addresses peers dial, each ending in /p2p/<relay peer ID>.
func (r *Relay) Addrs() []ma.Multiaddr {
	self := ma.StringCast("/p2p/" + r.host.ID().String())
	var addrs []ma.Multiaddr
	for _, addr := range r.host.Network().ListenAddresses() {
		addrs = append(addrs, addr.Encapsulate(self))
	}
	return addrs
}

// Port is the TCP port it listens on (the real one when started with port 0).
func (r *Relay) Port() int {
	for _, addr := range r.host.Network().ListenAddresses() {
		if port, err := addr.ValueForProtocol(ma.P_TCP); err == nil {
			n, _ := strconv.Atoi(port)
			return n
		}
	}
	return 0
}

// Present lists the peers presence tells others about.
func (r *Relay) Present() []peer.ID { return r.presence.Present() }

// Mailbox is the relay's mailbox; nil without one.
func (r *Relay) Mailbox() *mailbox.Mailbox { return r.mailbox }

// Close stops serving and closes every connection.
func (r *Relay) Close() error {
	var errs []error
	if r.links != nil {
		errs = append(errs, r.links.Close())
	}
	if r.presence != nil {
		r.presence.Close()
	}
	if r.mailbox != nil {
		errs = append(errs, r.mailbox.Close())
	}
	if r.circuit != nil {
		errs = append(errs, r.circuit.Close())
	}
	if r.stopPruning != nil {
		r.stopPruning()
	}
	if r.host != nil {
		errs = append(errs, r.host.Close())
	}
	return errors.Join(errs...)
}

func listenAddr(hostName string, port int) (ma.Multiaddr, error) {
	ip, err := netip.ParseAddr(hostName)
	if err != nil {
		return nil, fmt.Errorf("relay host %q is not an IP address: %w", hostName, err)
	}
	family := "ip4"
	if ip.Is6() {
		family = "ip6"
	}
	return ma.NewMultiaddr(fmt.Sprintf("/%s/%s/tcp/%d/ws", family, ip, port))
}

func relayResources(l Limits) circuit.Resources {
	res := circuit.DefaultResources()
	res.Limit = nil
	if l.DataLimit > 0 || l.DurationLimit > 0 {
		res.Limit = &circuit.RelayLimit{Data: l.DataLimit, Duration: l.DurationLimit}
	}
	res.ReservationTTL = l.ReservationTTL
	res.MaxReservations = l.MaxReservations
	res.MaxReservationsPerIP = l.MaxReservationsPerIP
	res.MaxReservationsPerASN = l.MaxReservations
	res.MaxCircuits = l.MaxHopStreams
	return res
}

// resourceManager counts connections: in total, per peer, and per IP
// (IPv4 /32, IPv6 /64), loopback included (go-libp2p exempts it by default;
// a relay behind a local proxy raises the per-IP limit instead).
func resourceManager(l Limits) (network.ResourceManager, error) {
	limits := rcmgr.PartialLimitConfig{
		System:      rcmgr.ResourceLimits{Conns: rcmgr.LimitVal(l.MaxConnections)},
		PeerDefault: rcmgr.ResourceLimits{Conns: rcmgr.LimitVal(l.MaxConnectionsPerPeer)},
	}.Build(rcmgr.InfiniteLimits)
	mgr, err := rcmgr.NewResourceManager(rcmgr.NewFixedLimiter(limits),
		rcmgr.WithNetworkPrefixLimit([]rcmgr.NetworkPrefixLimit{}, []rcmgr.NetworkPrefixLimit{}),
		rcmgr.WithLimitPerSubnet(
			[]rcmgr.ConnLimitPerSubnet{{PrefixLength: 32, ConnCount: l.MaxConnectionsPerIP}},
			[]rcmgr.ConnLimitPerSubnet{{PrefixLength: 64, ConnCount: l.MaxConnectionsPerIP}}))
	if err != nil {
		return nil, fmt.Errorf("relay resource manager: %w", err)
	}
	return mgr, nil
}
