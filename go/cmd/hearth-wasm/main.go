//go:build js

// Command hearth-wasm is the homeserver as it runs in a service worker or a
// headless Node peer: JS sets hearthStorage, starts this, and waits for hearthReady.
package main

import (
	"context"
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/matrix-org/gomatrixserverlib/spec"
	"github.com/sirupsen/logrus"

	"hearth/go/bridge"
	"hearth/go/clientapi"
	"hearth/go/media"
	"hearth/go/room"
	"hearth/go/server"
	"hearth/go/storage"
)

// peerWatchInterval is how often the list of peers on the relay is checked:
// a returning peer's queue and the catch-up of shared rooms wait for it. The
// list is in JS memory, so a check is one bridge call (measured: catch-up at
// start took ~5 s longer at a 5 s interval, the first check coming before the
// relay had said who is there).
const peerWatchInterval = time.Second

// gcPercent is GOGC for the wasm server. Go collects on the worker's one
// thread, between requests' work: at Go's default of 100 marking and
// sweeping took ~125 µs of a send and its /sync under Node (wasm, CPU
// profile), at 200 ~70, the heap's headroom doubling (linear memory 15 →
// 20 MB in that run; bench memory.wasm-linear).
const gcPercent = 200

func main() {
	debug.SetGCPercent(gcPercent)
	startup := bridge.AnnounceStartup()
	// Logs go to the console (wasm_exec.js prints stdout there); colours and
	// timestamps are noise in devtools, which adds its own.
	logrus.SetOutput(os.Stdout)
	logrus.SetFormatter(&logrus.TextFormatter{DisableColors: true, DisableTimestamp: true})

	upkeep := make(chan struct{})
	srv, err := start(context.Background(), upkeep)
	if err != nil {
		logrus.WithError(err).Error("start-up failed")
		startup.Failed(err)
		return
	}
	bridge.Serve(srv)
	// Mail from this server's mailboxes on relays, and notices about mail it
	// deposited in others'.
	bridge.ServeMailbox(bridge.Mailbox{
		Receive: func(ctx context.Context, from string, sealed []byte) error {
			return srv.Federation.ReceiveMail(ctx, spec.ServerName(from), sealed)
		},
		Notice: func(ctx context.Context, kind, to, ref string) error {
			return srv.Federation.MailNotice(ctx, kind, spec.ServerName(to), ref)
		},
	})
	ctx, cancel := context.WithCancel(context.Background())
	startup.Ready(bridge.ReadyInfo{ServerName: string(srv.Identity.ServerName), SigningKey: srv.Identity.Key})
	// The rest begins once the requests that waited for the start have had
	// their turn. Whatever goroutine can run when main waits runs before JS
	// learns that Go is ready: the first log line cost a start-up 6-17 ms
	// in the browser, the peer watchers' and the upkeep's first rounds
	// another 20-35 ms under Node.
	go func() {
		bridge.YieldToEventLoop()
		logrus.WithField("server_name", srv.Identity.ServerName).Info("homeserver ready")
		close(upkeep)
		// A peer that reappears on the relay (or is there at start) gets
		// its queued events at once, rather than at the end of its
		// back-off, and the rooms shared with it are caught up from it.
		go srv.Federation.WatchPeers(ctx, bridge.WatchedPeers, peerWatchInterval)
		// Whether a peer is reachable is its users' presence.
		go srv.Federation.WatchPresence(ctx, bridge.KnownPeers, peerWatchInterval)
	}()
	// Serve until the worker or process ends, or JS asks Go to stop (a
	// headless peer stopping inside a larger program): then main returns and
	// Go exits.
	<-startup.StopRequested()
	defer bridge.StopEventLoop()
	cancel()
	srv.Close()
	logrus.Info("homeserver stopped")
}

// start opens the storage and assembles the server; its upkeep waits for
// upkeep to close.
func start(ctx context.Context, upkeep <-chan struct{}) (*server.Server, error) {
	db, err := storage.Open(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("open storage: %w", err)
	}
	blobs, err := media.OpenBridgeBlobs()
	if err != nil {
		return nil, err
	}
	cfg := server.Config{
		DB:        db,
		Blobs:     blobs,                 // media bytes beside the database (hearthBlobs)
		Transport: bridge.P2PTransport{}, // outgoing federation over libp2p (hearthP2P)
		// An incoming request's libp2p sender must be the server its X-Matrix header names.
		RequestPeer: bridge.PeerFromContext,
		// The public room directory asks every peer the relay shows.
		Peers: bridge.KnownPeers,
		// Transactions for unreachable servers go to their mailboxes on relays.
		Depositor: bridge.P2PDepositor{},
		// A send's answer leaves before the /sync it woke is built.
		SyncAfterWake: bridge.YieldToEventLoop,
		// The headless peer passes its operator's choices in Go's environment;
		// the service worker passes none: open registration, same origin only.
		Client: clientPolicyFromEnv(),
		// The database is held in memory whole: old messages' JSON waits in
		// the blob store instead, read when scrolled back to.
		ColdEvents: coldEventsFromEnv(),
		// The outgoing queue's resumption, media recovery, the cold mover
		// and the search indexer wait until JS has seen the server ready
		// (main).
		UpkeepAfter: upkeep,
	}
	// Notifications reach HTTP pushers through JS's fetch (hearthPush);
	// without it they are only counted and listed.
	if gateway, err := bridge.OpenPushGateway(); err == nil {
		cfg.PushGateway = gateway
	}
	srv, err := server.New(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("start server: %w", err)
	}
	return srv, nil
}

// coldEventsFromEnv is room.ColdOptions for the browser and headless peers:
// the newest 1,000 events stay in the database, and older messages move out
// 200 at a time, looked for every 10 s. HEARTH_COLD_EVENTS_KEEP, _BATCH and
// _EVERY_MS change them, for tests (js/peer/cli.js passes them on).
func coldEventsFromEnv() room.ColdOptions {
	env := func(name string, otherwise int64) int64 {
		if n, err := strconv.ParseInt(os.Getenv("HEARTH_COLD_EVENTS_"+name), 10, 64); err == nil && n > 0 {
			return n
		}
		return otherwise
	}
	return room.ColdOptions{
		KeepNewest: env("KEEP", 1000),
		Batch:      int(env("BATCH", 200)),
		Every:      time.Duration(env("EVERY_MS", 10_000)) * time.Millisecond,
	}
}

// clientPolicyFromEnv reads HEARTH_REGISTRATION_TOKEN and HEARTH_CORS_ORIGINS
// (comma-separated), which js/peer sets from its --registration-token and
// --cors-origin options.
func clientPolicyFromEnv() clientapi.Policy {
	p := clientapi.Policy{RegistrationToken: os.Getenv("HEARTH_REGISTRATION_TOKEN")}
	for _, origin := range strings.Split(os.Getenv("HEARTH_CORS_ORIGINS"), ",") {
		if origin = strings.TrimSpace(origin); origin != "" {
			p.CORSOrigins = append(p.CORSOrigins, origin)
		}
	}
	return p
}
