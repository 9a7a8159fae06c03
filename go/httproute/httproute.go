// Package httproute registers routes on an http.ServeMux from a small
// function of its own. ServeMux records the file and line of whoever calls
// Handle, for its conflict messages, and finding them decodes the calling
// function's line tables from its start: called from inside one large
// route-table function, that cost grows with the table. In wasm the route
// tables took 65 ms of Go's start-up in a CPU profile, 13 ms registered
// through Handle here; Go's start under Node (5,000 messages, median of 16
// alternating runs) went from 195 to 167 ms.
package httproute

import (
	"net/http"
	"net/url"
	"strings"
)

// Handle is mux.Handle(pattern, h), called from this small function.
//
//go:noinline
func Handle(mux *http.ServeMux, pattern string, h http.Handler) {
	mux.Handle(pattern, h)
}

// Alias serves requests under the path prefix from as if they had come under
// to: mux dispatches them again with the prefix replaced, in the escaped path
// too (an escaped "/" in a segment stays one). One pattern instead of a
// second copy of a route table, whose registration is most of its cost at
// start-up.
func Alias(mux *http.ServeMux, from, to string) {
	Handle(mux, from, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		aliased := new(http.Request)
		*aliased = *r
		aliased.URL = new(url.URL)
		*aliased.URL = *r.URL
		aliased.URL.Path = to + strings.TrimPrefix(r.URL.Path, from)
		if r.URL.RawPath != "" {
			aliased.URL.RawPath = to + strings.TrimPrefix(r.URL.RawPath, from)
		}
		mux.ServeHTTP(w, aliased)
	}))
}
