package server

import (
	"context"
	"fmt"

	"github.com/matrix-org/gomatrixserverlib/spec"
	"github.com/sirupsen/logrus"

	"hearth/go/federation"
	"hearth/go/media"
)

// openMedia makes the media store and recovers it (legacy bytes moved out of
// the database, orphan blobs swept) before anything is served.
func openMedia(ctx context.Context, cfg Config, name spec.ServerName, fedClient *federation.Client) (*media.Store, error) {
	opts := cfg.Media
	opts.Now, opts.Random = cfg.Now, cfg.Random
	opts.FetchRemote = fedClient.DownloadMedia
	store := media.New(cfg.DB, cfg.Blobs, name, opts)
	moved, swept, err := store.Recover(ctx)
	if err != nil {
		return nil, fmt.Errorf("recover media: %w", err)
	}
	if moved > 0 || swept > 0 {
		logrus.Infof("media: moved %d files out of the database, swept %d orphan blobs", moved, swept)
	}
	return store, nil
}
