package server

import (
	"context"

	"github.com/matrix-org/gomatrixserverlib/spec"
	"github.com/sirupsen/logrus"

	"hearth/go/federation"
	"hearth/go/media"
)

// openMedia makes the media store.
func openMedia(cfg Config, name spec.ServerName, fedClient *federation.Client) *media.Store {
	opts := cfg.Media
	opts.Now, opts.Random = cfg.Now, cfg.Random
	opts.FetchRemote = fedClient.DownloadMedia
	return media.New(cfg.DB, cfg.Blobs, name, opts)
}

// recoverMedia moves legacy bytes out of the database and sweeps orphan
// blobs. It runs beside the server, not before it: listing the blobs is a
// storage round trip a start-up would wait for (in the browser, 8-20 ms of
// a warm start), and the store keeps uploads out of its way. A failure is
// logged; the next start tries again.
func recoverMedia(ctx context.Context, store *media.Store) {
	moved, swept, err := store.Recover(ctx)
	if err != nil && ctx.Err() == nil {
		logrus.WithError(err).Warn("media: recovery failed; the next start-up tries again")
	}
	if moved > 0 || swept > 0 {
		logrus.Infof("media: moved %d files out of the database, swept %d orphan blobs", moved, swept)
	}
}
