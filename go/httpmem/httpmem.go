// Package httpmem runs an http.Handler without a network and collects its
// response in memory. The bridge answers the service worker's fetches with
// it, and the in-process federation transport connects test servers with it.
// (net/http/httptest's recorder would do, but it pulls package flag into the
// wasm binary.)
package httpmem

import (
	"bytes"
	"net/http"
)

// Serve runs h on req and returns the status (200 when the handler wrote
// none), the response headers and the body.
func Serve(h http.Handler, req *http.Request) (status int, header http.Header, body []byte) {
	rec := &recorder{header: http.Header{}}
	h.ServeHTTP(rec, req)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	return rec.status, rec.header, rec.body.Bytes()
}

// recorder is the http.ResponseWriter Serve hands the handler.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	return r.body.Write(b)
}
