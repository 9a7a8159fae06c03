// Command go-relay is a stock go-libp2p circuit relay v2 for Hearth's tests
// and benchmarks: the relay any libp2p operator might run, with nothing of
// Hearth's. It listens for WebSockets on 127.0.0.1 and prints
// "go-relay: address <multiaddr>" for each address, then serves until
// SIGINT/SIGTERM.
//
// Its own module (test/go-relay/go.mod), outside Hearth's: Hearth's Go code
// never imports go-libp2p, and the wasm build must not see it.
//
// Limits are set like Hearth's relay (js/relay/index.js): no per-connection
// data or duration limit, and counts high enough for the benchmarks.
package main

import (
	"crypto/rand"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/network"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	"github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/relay"
	"github.com/libp2p/go-libp2p/p2p/transport/websocket"
)

func main() {
	port := flag.Int("port", 0, "TCP port for WebSockets on 127.0.0.1 (0: any free port)")
	flag.Parse()

	key, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		log.Fatalf("go-relay: generate key: %v", err)
	}
	host, err := libp2p.New(
		libp2p.Identity(key),
		libp2p.NoTransports,
		libp2p.Transport(websocket.New),
		libp2p.ListenAddrStrings(fmt.Sprintf("/ip4/127.0.0.1/tcp/%d/ws", *port)),
		// every benchmark peer is on 127.0.0.1: the default per-IP limits would refuse most of them
		libp2p.ResourceManager(unlimited()),
		libp2p.EnableRelayService(relay.WithResources(resources())),
		libp2p.ForceReachabilityPublic(),
	)
	if err != nil {
		log.Fatalf("go-relay: start: %v", err)
	}
	for _, addr := range host.Addrs() {
		fmt.Printf("go-relay: address %s/p2p/%s\n", addr, host.ID())
	}

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	<-stop
	if err := host.Close(); err != nil {
		log.Printf("go-relay: close: %v", err)
	}
}

// resources mirrors DEFAULT_RELAY_LIMITS in js/relay/index.js.
func resources() relay.Resources {
	r := relay.DefaultResources()
	r.Limit = nil // no data or duration limit per relayed connection
	r.ReservationTTL = 2 * time.Hour
	r.MaxReservations = 256
	r.MaxCircuits = 1024
	r.MaxReservationsPerIP = 256
	r.MaxReservationsPerASN = 256
	return r
}

func unlimited() network.ResourceManager {
	mgr, err := rcmgr.NewResourceManager(rcmgr.NewFixedLimiter(rcmgr.InfiniteLimits), rcmgr.WithLimitPerSubnet(nil, nil))
	if err != nil {
		log.Fatalf("go-relay: resource manager: %v", err)
	}
	return mgr
}
