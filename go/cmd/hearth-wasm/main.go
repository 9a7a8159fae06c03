//go:build js

// Command hearth-wasm is the homeserver as it runs in a service worker or a
// headless Node peer: JS sets hearthStorage, starts this, and waits for hearthReady.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/sirupsen/logrus"

	"hearth/go/bridge"
	"hearth/go/server"
	"hearth/go/storage"
)

func main() {
	startup := bridge.AnnounceStartup()
	// Logs go to the console (wasm_exec.js prints stdout there); colours and
	// timestamps are noise in devtools, which adds its own.
	logrus.SetOutput(os.Stdout)
	logrus.SetFormatter(&logrus.TextFormatter{DisableColors: true, DisableTimestamp: true})

	srv, err := start(context.Background())
	if err != nil {
		logrus.WithError(err).Error("start-up failed")
		startup.Failed(err)
		return
	}
	bridge.Serve(srv)
	startup.Ready(bridge.ReadyInfo{ServerName: string(srv.Identity.ServerName), SigningKey: srv.Identity.Key})
	// Not yet: srv.Federation.WatchPeers(ctx, bridge.KnownPeers, interval). Its
	// ticker is a JS timer that never stops, so a Node process running a peer
	// in-process (the e2e tests) would never exit; JS should rather tell Go
	// when a peer joins. Until then a returning peer waits out the queue's back-off.
	select {} // serve until the worker or process ends
}

func start(ctx context.Context) (*server.Server, error) {
	db, err := storage.Open(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("open storage: %w", err)
	}
	srv, err := server.New(ctx, server.Config{
		DB: db,
		// Federation goes over libp2p (hearthP2P); an incoming federation
		// request must come from the peer its X-Matrix origin names.
		Transport:   bridge.P2PTransport{},
		RequestPeer: bridge.PeerFromContext,
	})
	if err != nil {
		return nil, fmt.Errorf("start server: %w", err)
	}
	return srv, nil
}
