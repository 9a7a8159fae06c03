// Package clientapi is the Matrix client-server API over HTTP: the route
// table, authentication, and the mapping of errors to Matrix errcodes.
package clientapi

import (
	"context"
	"net/http"
	"strings"

	"github.com/matrix-org/gomatrixserverlib/spec"
	"github.com/sirupsen/logrus"

	"hearth/go/account"
	"hearth/go/federation"
	"hearth/go/room"
	"hearth/go/syncapi"
)

var log = logrus.WithField("component", "clientapi")

// API serves the client-server API of one server.
type API struct {
	server   spec.ServerName
	accounts *account.Accounts
	rooms    *room.Rooms
	syncer   *syncapi.Syncer
	// fed does what needs other servers: joins, invites and leaves of rooms
	// elsewhere, remote directories, backfill.
	fed *federation.Federation
}

// New returns the client API of the server named server.
func New(server spec.ServerName, accounts *account.Accounts, rooms *room.Rooms, syncer *syncapi.Syncer, fed *federation.Federation) *API {
	return &API{server: server, accounts: accounts, rooms: rooms, syncer: syncer, fed: fed}
}

// request is what every handler gets: the HTTP request and, on
// authenticated routes, the device that made it.
type request struct {
	*http.Request
	device account.Device
}

// handler answers with a JSON body for 200 OK, or an error.
type handler func(req *request) (any, error)

// withStatus answers with a status other than 200 and a JSON body.
type withStatus struct {
	status int
	body   any
}

type access int

const (
	public access = iota // no access token needed
	authed               // a valid access token or M_MISSING_TOKEN / M_UNKNOWN_TOKEN
)

// Handler returns the client-server API, with CORS, as an http.Handler.
// One route table: each line shows its method, path and whether it needs a token.
func (a *API) Handler() http.Handler {
	mux := http.NewServeMux()
	client := func(method, path string, acc access, h handler) {
		for _, prefix := range []string{"/_matrix/client/v3", "/_matrix/client/r0"} {
			mux.Handle(method+" "+prefix+path, a.serve(acc, h))
		}
	}
	mux.Handle("GET /_matrix/client/versions", a.serve(public, a.versions))
	mux.Handle("GET /.well-known/matrix/client", a.serve(public, a.wellKnown))

	client("GET", "/login", public, a.loginFlows)
	client("POST", "/login", public, a.login)
	client("POST", "/register", public, a.register)
	client("GET", "/register/available", public, a.usernameAvailable)
	client("GET", "/account/whoami", authed, a.whoami)
	client("POST", "/logout", authed, a.logout)
	client("GET", "/capabilities", authed, a.capabilities)

	client("POST", "/createRoom", authed, a.createRoom)
	client("GET", "/joined_rooms", authed, a.joinedRooms)
	client("PUT", "/rooms/{roomId}/send/{eventType}/{txnId}", authed, a.sendMessage)
	client("GET", "/rooms/{roomId}/state", authed, a.roomState)
	client("GET", "/rooms/{roomId}/state/{eventType}", authed, a.getState)
	client("GET", "/rooms/{roomId}/state/{eventType}/{stateKey...}", authed, a.getState)
	client("PUT", "/rooms/{roomId}/state/{eventType}", authed, a.putState)
	client("PUT", "/rooms/{roomId}/state/{eventType}/{stateKey...}", authed, a.putState)
	client("GET", "/rooms/{roomId}/messages", authed, a.messages)
	client("POST", "/rooms/{roomId}/join", authed, a.join)
	client("POST", "/join/{roomIdOrAlias}", authed, a.join)
	client("POST", "/rooms/{roomId}/leave", authed, a.leave)
	client("POST", "/rooms/{roomId}/invite", authed, a.invite)
	client("POST", "/rooms/{roomId}/kick", authed, a.kick)
	client("POST", "/rooms/{roomId}/ban", authed, a.ban)
	client("POST", "/rooms/{roomId}/unban", authed, a.unban)
	client("GET", "/publicRooms", public, a.publicRooms)
	client("POST", "/publicRooms", authed, a.publicRooms)
	client("GET", "/sync", authed, a.sync)

	mux.Handle("/_matrix/", a.serve(public, unrecognized))
	mux.Handle("/.well-known/matrix/", a.serve(public, func(req *request) (any, error) {
		return nil, notFound("no such well-known document: " + req.URL.Path)
	}))
	return cors(mux)
}

// serve adapts a handler: authentication, then JSON in and out.
func (a *API) serve(acc access, h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req := &request{Request: r}
		if acc == authed {
			token, ok := accessToken(r)
			if !ok {
				writeError(w, r, newError(http.StatusUnauthorized, "M_MISSING_TOKEN", "no access token given"))
				return
			}
			dev, err := a.accounts.Authenticate(r.Context(), token)
			if err != nil {
				writeError(w, r, err)
				return
			}
			req.device = dev
		}
		body, err := h(req)
		if err != nil {
			writeError(w, r, err)
			return
		}
		if ws, ok := body.(withStatus); ok {
			writeJSON(w, ws.status, ws.body)
			return
		}
		writeJSON(w, http.StatusOK, body)
	})
}

// accessToken reads the token from the Authorization header or, as the spec
// still allows, the access_token query parameter.
func accessToken(r *http.Request) (string, bool) {
	if h := r.Header.Get("Authorization"); h != "" {
		token, ok := strings.CutPrefix(h, "Bearer ")
		return token, ok && token != ""
	}
	token := r.URL.Query().Get("access_token")
	return token, token != ""
}

// cors lets web clients on other origins call the API (client-server API,
// "Web Browser Clients").
func cors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE, OPTIONS")
		h.Set("Access-Control-Allow-Headers", "X-Requested-With, Content-Type, Authorization")
		if r.Method == http.MethodOptions {
			w.WriteHeader(http.StatusOK)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func unrecognized(req *request) (any, error) {
	return nil, newError(http.StatusNotFound, "M_UNRECOGNIZED", "unrecognized request: "+req.Method+" "+req.URL.Path)
}

func (a *API) versions(*request) (any, error) {
	return map[string]any{
		"versions":          []string{"r0.6.1", "v1.1", "v1.2", "v1.3", "v1.4", "v1.5", "v1.6", "v1.7", "v1.8", "v1.9", "v1.10", "v1.11"},
		"unstable_features": map[string]bool{},
	}, nil
}

func (a *API) wellKnown(req *request) (any, error) {
	scheme := "http"
	if req.TLS != nil || req.URL.Scheme == "https" {
		scheme = "https"
	}
	return map[string]any{"m.homeserver": map[string]string{"base_url": scheme + "://" + req.Host}}, nil
}

func (a *API) capabilities(*request) (any, error) {
	return map[string]any{"capabilities": map[string]any{
		"m.change_password": map[string]bool{"enabled": false},
		"m.room_versions": map[string]any{
			"default":   string(room.DefaultVersion),
			"available": availableVersions(),
		},
	}}, nil
}

// ctx is shorthand for the request's context.
func (req *request) ctx() context.Context { return req.Context() }

// availableVersions lists the room versions this server creates and joins.
func availableVersions() map[string]string {
	out := map[string]string{}
	for _, v := range room.SupportedVersions {
		out[string(v)] = "stable"
	}
	return out
}
