//go:build !js

package clientapi_test

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"hearth/go/clientapi"
	"hearth/go/server"
)

// Issue 11, defect 9: the API answered Access-Control-Allow-Origin: * to
// every page, so any site its owner visited could drive a server on 127.0.0.1.
func TestCORSAllowsOnlyOwnAndConfiguredOrigins(t *testing.T) {
	ts := startServerWith(t, filepath.Join(t.TempDir(), "hearth.db"), server.Config{
		Client: clientapi.Policy{CORSOrigins: []string{"https://app.example.org"}},
	})
	origin := func(o string) http.Header { return http.Header{"Origin": {o}} }

	foreign := ts.doHeader("GET", "/_matrix/client/versions", "", nil, origin("https://evil.example"))
	ts.expect(foreign, 403, "M_FORBIDDEN")
	if foreign.header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("foreign origin got CORS headers: %v", foreign.header)
	}
	// A "simple" POST needs no preflight: refusing it is what stops a page registering.
	simple := ts.doHeader("POST", "/_matrix/client/v3/register", "", `{"username":"mallory","password":"pw","auth":{"type":"m.login.dummy"}}`,
		http.Header{"Origin": {"https://evil.example"}, "Content-Type": {"text/plain"}})
	ts.expect(simple, 403, "M_FORBIDDEN")
	ts.expect(ts.do("GET", "/_matrix/client/v3/register/available?username=mallory", "", nil), 200, "")
	pre := ts.doHeader("OPTIONS", "/_matrix/client/v3/sync", "", nil, origin("https://evil.example"))
	if pre.status != 403 || pre.header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("foreign preflight: %d %v", pre.status, pre.header)
	}

	allowed := ts.doHeader("OPTIONS", "/_matrix/client/v3/sync", "", nil, origin("https://app.example.org"))
	if allowed.status != 200 || allowed.header.Get("Access-Control-Allow-Origin") != "https://app.example.org" ||
		!strings.Contains(allowed.header.Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Fatalf("configured origin's preflight: %d %v", allowed.status, allowed.header)
	}
	own := ts.doHeader("GET", "/_matrix/client/versions", "", nil, origin(ts.url))
	ts.expect(own, 200, "")
	if own.header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("same-origin request needs no CORS headers: %v", own.header)
	}
	// Non-browser clients send no Origin and are not affected.
	ts.expect(ts.do("GET", "/_matrix/client/versions", "", nil), 200, "")
}

func TestCORSAnyOriginWhenConfigured(t *testing.T) {
	ts := startServerWith(t, filepath.Join(t.TempDir(), "hearth.db"), server.Config{
		Client: clientapi.Policy{CORSOrigins: []string{"*"}},
	})
	r := ts.doHeader("GET", "/_matrix/client/versions", "", nil, http.Header{"Origin": {"https://any.example"}})
	if r.status != 200 || r.header.Get("Access-Control-Allow-Origin") != "https://any.example" {
		t.Fatalf("any origin: %d %v", r.status, r.header)
	}
}
