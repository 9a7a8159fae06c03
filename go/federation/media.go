package federation

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"

	"github.com/matrix-org/gomatrixserverlib/spec"

	"hearth/go/errcode"
	"hearth/go/media"
)

// Media across servers: authenticated federation media (server-server API
// v1.11, "Content Repository", GET /_matrix/federation/v1/media/download).
// The answer is multipart/mixed: a JSON part (metadata, "{}" here) and the
// file itself. Hearth always sends the file inline, never a Location part
// (a browser-hosted server has no other place to redirect to), and refuses
// a Location part from others.

// maxMediaOverhead is what a download answer may carry beyond the file:
// the boundaries and part headers.
const maxMediaOverhead = 64 << 10

func (f *Federation) mediaDownload(req *request) (any, error) {
	if f.opts.Media == nil {
		return nil, errcode.New(http.StatusNotFound, "M_NOT_FOUND", "this server keeps no media")
	}
	m, err := f.opts.Media.GetLocal(req.ctx(), req.PathValue("mediaId"))
	if errors.Is(err, media.ErrNotFound) {
		return nil, errcode.New(http.StatusNotFound, "M_NOT_FOUND", err.Error())
	}
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	meta, err := w.CreatePart(textproto.MIMEHeader{"Content-Type": {"application/json"}})
	if err != nil {
		return nil, fmt.Errorf("write media answer: %w", err)
	}
	meta.Write([]byte("{}"))
	h := textproto.MIMEHeader{"Content-Type": {m.ContentType}}
	if m.FileName != "" {
		h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": m.FileName}))
	}
	file, err := w.CreatePart(h)
	if err != nil {
		return nil, fmt.Errorf("write media answer: %w", err)
	}
	file.Write(m.Data)
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("write media answer: %w", err)
	}
	return rawBody{contentType: "multipart/mixed; boundary=" + w.Boundary(), data: buf.Bytes()}, nil
}

// DownloadMedia fetches a file of server (media.Options.FetchRemote), at most
// maxBytes long. A 404 answer is media.ErrNotFound.
func (c *Client) DownloadMedia(ctx context.Context, server spec.ServerName, mediaID string, maxBytes int64) (media.Media, error) {
	header, raw, err := c.exchange(ctx, server, "GET", path("/_matrix/federation/v1/media/download", mediaID), nil, nil, maxBytes+maxMediaOverhead)
	var re *RemoteError
	if errors.As(err, &re) && re.Status == http.StatusNotFound {
		return media.Media{}, fmt.Errorf("%w: %s/%s: %v", media.ErrNotFound, server, mediaID, err)
	}
	if err != nil {
		return media.Media{}, err
	}
	bad := func(why string) (media.Media, error) {
		return media.Media{}, fmt.Errorf("%w: media %s/%s: %s", ErrBadRequest, server, mediaID, why)
	}
	ct, params, err := mime.ParseMediaType(header.Get("Content-Type"))
	if err != nil || ct != "multipart/mixed" || params["boundary"] == "" {
		return bad("answer is " + header.Get("Content-Type") + ", not multipart/mixed")
	}
	r := multipart.NewReader(bytes.NewReader(raw), params["boundary"])
	if _, err := r.NextPart(); err != nil { // the JSON metadata: nothing in it is used yet
		return bad("no metadata part: " + err.Error())
	}
	part, err := r.NextPart()
	if err != nil {
		return bad("no file part: " + err.Error())
	}
	if part.Header.Get("Location") != "" {
		return bad("redirects (Location) are not followed")
	}
	data, err := io.ReadAll(io.LimitReader(part, maxBytes+1))
	if err != nil {
		return bad("read file part: " + err.Error())
	}
	if int64(len(data)) > maxBytes {
		return media.Media{}, fmt.Errorf("%w: %s/%s is over %d bytes", media.ErrTooLarge, server, mediaID, maxBytes)
	}
	m := media.Media{ContentType: part.Header.Get("Content-Type"), Data: data}
	if _, dp, err := mime.ParseMediaType(part.Header.Get("Content-Disposition")); err == nil {
		m.FileName = dp["filename"]
	}
	return m, nil
}
