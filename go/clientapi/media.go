package clientapi

import (
	"errors"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/matrix-org/gomatrixserverlib/spec"

	"hearth/go/errcode"
	"hearth/go/media"
)

func (a *API) mediaConfig(*request) (any, error) {
	return map[string]int64{"m.upload.size": a.media.MaxBytes()}, nil
}

// upload streams the body to the media store: over the limit it is refused
// mid-stream (M_TOO_LARGE), and nothing is acknowledged before it is durable.
func (a *API) upload(req *request) (any, error) {
	uri, err := a.media.Upload(req.ctx(), req.device.UserID, req.Header.Get("Content-Type"), req.URL.Query().Get("filename"), req.Body, req.ContentLength)
	if err != nil {
		return nil, err
	}
	return map[string]string{"content_uri": uri}, nil
}

// createMedia is POST /_matrix/media/v1/create: an mxc:// URI to upload to
// later (spec 1.11, "Content repository").
func (a *API) createMedia(req *request) (any, error) {
	uri, expires, err := a.media.Create(req.ctx(), req.device.UserID)
	if err != nil {
		return nil, err
	}
	return map[string]any{"content_uri": uri, "unused_expires_at": expires.UnixMilli()}, nil
}

// uploadCreated is PUT /_matrix/media/v3/upload/{serverName}/{mediaId}: the
// bytes of a URI from createMedia, once, by its creator.
func (a *API) uploadCreated(req *request) (any, error) {
	if spec.ServerName(req.PathValue("serverName")) != a.server {
		return nil, errcode.New(http.StatusForbidden, "M_FORBIDDEN", "media of another server cannot be uploaded here")
	}
	err := a.media.UploadCreated(req.ctx(), req.device.UserID, req.PathValue("mediaId"), req.Header.Get("Content-Type"),
		req.URL.Query().Get("filename"), req.Body, req.ContentLength)
	return struct{}{}, err
}

// getMedia loads the {serverName}/{mediaId} of the path, fetching another
// server's over federation unless the query says allow_remote=false.
func (a *API) getMedia(req *request) (media.Media, error) {
	server, err := a.mediaServer(req)
	if err != nil {
		return media.Media{}, err
	}
	if err := a.awaitUpload(req, server); err != nil {
		return media.Media{}, err
	}
	return a.media.Get(req.ctx(), server, req.PathValue("mediaId"))
}

// awaitUpload waits for the upload of a local ID created ahead of it, as
// long as the query's timeout_ms says (spec v1.11, "GET
// /_matrix/client/v1/media/download": default 20 s; at most
// media.MaxUploadWait here), then 504 M_NOT_YET_UPLOADED.
func (a *API) awaitUpload(req *request, server spec.ServerName) error {
	if server != a.server {
		return nil
	}
	wait := media.DefaultUploadWait
	if s := req.URL.Query().Get("timeout_ms"); s != "" {
		ms, err := strconv.ParseInt(s, 10, 64)
		if err != nil || ms < 0 {
			return invalidParam("timeout_ms must be a non-negative integer")
		}
		wait = time.Duration(min(ms, int64(media.MaxUploadWait/time.Millisecond))) * time.Millisecond
	}
	return a.media.AwaitUpload(req.ctx(), req.PathValue("mediaId"), wait)
}

// mediaServer is the {serverName} of the path, if we may look there.
func (a *API) mediaServer(req *request) (spec.ServerName, error) {
	server := spec.ServerName(req.PathValue("serverName"))
	if server != a.server && req.URL.Query().Get("allow_remote") == "false" {
		return "", notFound("media of another server and allow_remote=false")
	}
	return server, nil
}

func (a *API) download(req *request) (any, error) {
	m, err := a.getMedia(req)
	if err != nil {
		return nil, err
	}
	name := req.PathValue("fileName")
	if name == "" {
		name = m.FileName
	}
	disposition := "attachment"
	if inlineSafe(m.ContentType) {
		disposition = "inline"
	}
	if name != "" {
		disposition = mime.FormatMediaType(disposition, map[string]string{"filename": name})
	}
	return rawBody{contentType: m.ContentType, disposition: disposition, data: m.Data}, nil
}

// thumbnail serves a scaled copy of an image (media.Store.Thumbnail says
// which sizes and formats); anything that is not an image has none.
func (a *API) thumbnail(req *request) (any, error) {
	server, err := a.mediaServer(req)
	if err != nil {
		return nil, err
	}
	if err := a.awaitUpload(req, server); err != nil {
		return nil, err
	}
	q := req.URL.Query()
	width, _ := strconv.Atoi(q.Get("width"))
	height, _ := strconv.Atoi(q.Get("height"))
	m, err := a.media.Thumbnail(req.ctx(), server, req.PathValue("mediaId"), width, height, q.Get("method"))
	if errors.Is(err, media.ErrNoThumbnail) {
		return nil, notFound(err.Error())
	}
	if err != nil {
		return nil, err
	}
	if !inlineSafe(m.ContentType) {
		return nil, notFound("no thumbnail for " + m.ContentType)
	}
	return rawBody{contentType: m.ContentType, disposition: "inline", data: m.Data}, nil
}

func (a *API) previewURL(*request) (any, error) {
	// Fetching arbitrary URLs from a browser-hosted server is neither possible
	// (CORS) nor wise; the spec allows an empty preview.
	return struct{}{}, nil
}

// inlineSafe lists the types a browser may show inline (the spec's
// recommended list), so uploads cannot run as pages on this origin.
func inlineSafe(contentType string) bool {
	t, _, _ := mime.ParseMediaType(contentType)
	switch t {
	case "text/css", "text/plain", "text/csv", "application/json", "application/ld+json",
		"image/jpeg", "image/gif", "image/png", "image/apng", "image/webp", "image/avif",
		"video/mp4", "video/webm", "video/ogg", "video/quicktime",
		"audio/mp4", "audio/webm", "audio/aac", "audio/mpeg", "audio/ogg", "audio/wave", "audio/wav", "audio/x-wav", "audio/x-pn-wav", "audio/flac", "audio/x-flac":
		return true
	}
	return false
}
