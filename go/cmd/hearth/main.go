//go:build !js

// Command hearth runs the homeserver natively: for development and for
// trying the client-server API with any Matrix client.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"

	"github.com/sirupsen/logrus"

	"hearth/go/clientapi"
	"hearth/go/media"
	"hearth/go/push"
	"hearth/go/server"
	"hearth/go/storage"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8008", "address to listen on")
	dataDir := flag.String("data", "hearth-data", "directory for the database and, under media/, the media files")
	var policy clientapi.Policy
	flag.StringVar(&policy.RegistrationToken, "registration-token", os.Getenv("HEARTH_REGISTRATION_TOKEN"),
		"registering needs this token (m.login.registration_token); empty: open registration (env HEARTH_REGISTRATION_TOKEN)")
	flag.Func("cors-origin", "a web origin (https://app.example.org, or * for any) whose pages may use the client API; repeatable. None: same origin only",
		func(origin string) error {
			policy.CORSOrigins = append(policy.CORSOrigins, origin)
			return nil
		})
	mediaQuota := flag.Int64("media-quota", media.DefaultQuotaBytes, "bytes all media files may take, uploads and other servers' cached files")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *addr, *dataDir, policy, *mediaQuota); err != nil {
		logrus.WithError(err).Fatal("hearth stopped")
	}
}

func run(ctx context.Context, addr, dataDir string, policy clientapi.Policy, mediaQuota int64) error {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return err
	}
	db, err := storage.Open(ctx, filepath.Join(dataDir, "hearth.db"))
	if err != nil {
		return err
	}
	defer db.Close()
	blobs, err := media.NewFileBlobs(filepath.Join(dataDir, "media"))
	if err != nil {
		return err
	}
	srv, err := server.New(ctx, server.Config{
		DB: db, Client: policy, Blobs: blobs, Media: media.Options{QuotaBytes: mediaQuota}, PushGateway: push.HTTPGateway{},
	})
	if err != nil {
		return err
	}
	// Listen before saying so: whoever waits for the line (scripts, the SDK
	// tests) connects at once, and a connection before the bind was refused.
	listener, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	httpServer := &http.Server{Handler: srv}
	go func() {
		<-ctx.Done()
		httpServer.Close()
	}()
	logrus.Infof("listening on http://%s as %s", listener.Addr(), srv.Identity.ServerName)
	if err := httpServer.Serve(listener); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
