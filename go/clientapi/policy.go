package clientapi

import (
	"net/http"
	"net/url"
	"slices"
	"time"

	"hearth/go/errcode"
)

// Policy is what the operator decides about who may use the client API.
// The zero Policy is the browser's: open registration, same origin only.
type Policy struct {
	// RegistrationToken, when set, must be given to register (UIA stage
	// m.login.registration_token), so that scripts can register on a
	// headless or native server and web pages cannot. "": open (m.login.dummy).
	RegistrationToken string
	// CORSOrigins are the web origins besides the server's own whose pages
	// may call the API ("https://app.example.org"; "*" for any). None: only
	// the server's own origin.
	CORSOrigins []string
	// Registrations bounds account creation per client address; zero:
	// DefaultRegistrationLimit.
	Registrations RateLimit
	Now           func() time.Time // nil: time.Now
}

// cors answers browsers' cross-origin checks (client-server API, "Web Browser
// Clients"). The spec suggests "*" for every origin, but then any page the
// owner of a server on 127.0.0.1 visits could register on it and act as it
// (issue 11): only the server's own origin and the configured ones get in. A
// request from any other origin is refused before it reaches a handler,
// because a "simple" cross-origin POST (a text/plain body) runs without a
// preflight even though its answer cannot be read.
func cors(allowed []string, next http.Handler) http.Handler {
	anyOrigin := slices.Contains(allowed, "*")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin != "" && !sameOrigin(origin, r) {
			if !anyOrigin && !slices.Contains(allowed, origin) {
				errcode.WriteJSON(w, http.StatusForbidden, errcode.New(http.StatusForbidden, "M_FORBIDDEN",
					"origin "+origin+" may not use this server's client API"))
				return
			}
			h := w.Header()
			h.Set("Access-Control-Allow-Origin", origin)
			h.Add("Vary", "Origin")
			h.Set("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE, OPTIONS")
			h.Set("Access-Control-Allow-Headers", "X-Requested-With, Content-Type, Authorization")
		}
		if r.Method == http.MethodOptions {
			w.WriteHeader(http.StatusOK)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// sameOrigin reports whether origin is the server's own: its host is the one
// the request was sent to.
func sameOrigin(origin string, r *http.Request) bool {
	u, err := url.Parse(origin)
	return err == nil && u.Host != "" && u.Host == r.Host
}
