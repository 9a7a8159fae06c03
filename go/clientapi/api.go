// Package clientapi is the Matrix client-server API over HTTP: the route
// table, authentication, and the mapping of errors to Matrix errcodes.
package clientapi

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/matrix-org/gomatrixserverlib/spec"
	"github.com/sirupsen/logrus"

	"hearth/go/account"
	"hearth/go/accountdata"
	"hearth/go/ephemeral"
	"hearth/go/errcode"
	"hearth/go/federation"
	"hearth/go/httproute"
	"hearth/go/keys"
	"hearth/go/media"
	"hearth/go/push"
	"hearth/go/room"
	"hearth/go/syncapi"
)

var log = logrus.WithField("component", "clientapi")

// API serves the client-server API of one server.
type API struct {
	server      spec.ServerName
	accounts    *account.Accounts
	perform     *room.Performer
	query       *room.Queryer
	syncer      *syncapi.Syncer
	filters     *syncapi.Filters
	accountData *accountdata.Store
	ephemeral   *ephemeral.Ephemeral
	keys        *keys.Keys
	media       *media.Store
	// fed does what needs other servers: joins, invites and leaves of rooms
	// elsewhere, remote directories, backfill.
	fed *federation.Federation
	// push keeps the notifications push rules made (GET /notifications).
	push *push.Push

	policy        Policy
	registrations *limiter
}

// Deps are the components the client API serves from.
type Deps struct {
	Accounts *account.Accounts
	// Perform and Query are the room roles the client API uses: what users
	// do in rooms and what they read; other servers' events are federation's.
	Perform     *room.Performer
	Query       *room.Queryer
	Syncer      *syncapi.Syncer
	Filters     *syncapi.Filters
	AccountData *accountdata.Store
	Ephemeral   *ephemeral.Ephemeral
	Keys        *keys.Keys
	Media       *media.Store
	Federation  *federation.Federation
	Push        *push.Push
	Policy      Policy
}

// New returns the client API of the server named server.
func New(server spec.ServerName, d Deps) *API {
	p := d.Policy
	if p.Now == nil {
		p.Now = time.Now
	}
	if p.Registrations == (RateLimit{}) {
		p.Registrations = DefaultRegistrationLimit
	}
	return &API{
		server: server, accounts: d.Accounts, perform: d.Perform, query: d.Query, syncer: d.Syncer, filters: d.Filters,
		accountData: d.AccountData, ephemeral: d.Ephemeral, keys: d.Keys, media: d.Media, fed: d.Federation, push: d.Push,
		policy: p, registrations: newLimiter(p.Registrations, p.Now),
	}
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

// Handler returns the client-server API, with the policy's CORS, as an http.Handler.
// One route table: each line shows its method, path and whether it needs a token.
func (a *API) Handler() http.Handler {
	mux := http.NewServeMux()
	client := func(method, path string, acc access, h handler) {
		httproute.Handle(mux, method+" /_matrix/client/v3"+path, a.serve(acc, h))
	}
	// r0, v3's name before spec 1.1, is answered as v3.
	httproute.Alias(mux, "/_matrix/client/r0/", "/_matrix/client/v3/")
	clientV1 := func(method, path string, acc access, h handler) {
		httproute.Handle(mux, method+" /_matrix/client/v1"+path, a.serve(acc, h))
	}
	httproute.Handle(mux, "GET /_matrix/client/versions", a.serve(public, a.versions))
	httproute.Handle(mux, "GET /.well-known/matrix/client", a.serve(public, a.wellKnown))

	client("GET", "/login", public, a.loginFlows)
	client("POST", "/login", public, a.login)
	client("POST", "/register", public, a.register)
	client("GET", "/register/available", public, a.usernameAvailable)
	client("GET", "/account/whoami", authed, a.whoami)
	client("POST", "/account/password", authed, a.changePassword)
	client("POST", "/account/deactivate", authed, a.deactivate)
	client("POST", "/logout", authed, a.logout)
	client("POST", "/logout/all", authed, a.logoutAll)
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
	client("GET", "/directory/list/room/{roomId}", public, a.directoryVisibility)
	client("PUT", "/directory/list/room/{roomId}", authed, a.setDirectoryVisibility)
	client("GET", "/sync", authed, a.sync)

	client("GET", "/profile/{userId}", public, a.getProfile)
	client("GET", "/profile/{userId}/{field}", public, a.getProfileField)
	client("PUT", "/profile/{userId}/{field}", authed, a.putProfileField)
	client("POST", "/user_directory/search", authed, a.searchUsers)
	client("POST", "/search", authed, a.search)

	client("PUT", "/directory/room/{alias}", authed, a.putAlias)
	client("GET", "/directory/room/{alias}", public, a.getAlias)
	client("DELETE", "/directory/room/{alias}", authed, a.deleteAlias)
	client("GET", "/rooms/{roomId}/aliases", authed, a.roomAliases)

	client("PUT", "/rooms/{roomId}/redact/{eventId}/{txnId}", authed, a.redact)
	client("GET", "/rooms/{roomId}/context/{eventId}", authed, a.eventContext)
	client("GET", "/rooms/{roomId}/event/{eventId}", authed, a.getEvent)
	client("GET", "/rooms/{roomId}/members", authed, a.members)
	client("GET", "/rooms/{roomId}/joined_members", authed, a.joinedMembers)
	clientV1("GET", "/rooms/{roomId}/relations/{eventId}", authed, a.relations)
	clientV1("GET", "/rooms/{roomId}/relations/{eventId}/{relType}", authed, a.relations)
	clientV1("GET", "/rooms/{roomId}/relations/{eventId}/{relType}/{eventType}", authed, a.relations)
	clientV1("GET", "/rooms/{roomId}/threads", authed, a.threads)
	client("POST", "/rooms/{roomId}/forget", authed, a.forget)
	client("POST", "/rooms/{roomId}/upgrade", authed, a.upgradeRoom)

	client("PUT", "/rooms/{roomId}/typing/{userId}", authed, a.typing)
	client("POST", "/rooms/{roomId}/receipt/{receiptType}/{eventId}", authed, a.receipt)
	client("POST", "/rooms/{roomId}/read_markers", authed, a.readMarkers)
	client("GET", "/presence/{userId}/status", authed, a.getPresence)
	client("PUT", "/presence/{userId}/status", authed, a.putPresence)

	client("GET", "/user/{userId}/account_data/{type}", authed, a.getAccountData)
	client("PUT", "/user/{userId}/account_data/{type}", authed, a.putAccountData)
	client("GET", "/user/{userId}/rooms/{roomId}/account_data/{type}", authed, a.getAccountData)
	client("PUT", "/user/{userId}/rooms/{roomId}/account_data/{type}", authed, a.putAccountData)
	client("POST", "/user/{userId}/filter", authed, a.createFilter)
	client("GET", "/user/{userId}/filter/{filterId}", authed, a.getFilter)
	client("GET", "/pushrules/", authed, a.pushRules)
	client("GET", "/pushrules/global/", authed, a.pushRules)
	client("GET", "/pushrules/global/{kind}/{ruleId}", authed, a.pushRule)
	client("PUT", "/pushrules/global/{kind}/{ruleId}", authed, a.putPushRule)
	client("DELETE", "/pushrules/global/{kind}/{ruleId}", authed, a.deletePushRule)
	client("GET", "/pushrules/global/{kind}/{ruleId}/{attr}", authed, a.pushRuleAttr)
	client("PUT", "/pushrules/global/{kind}/{ruleId}/{attr}", authed, a.putPushRuleAttr)
	client("GET", "/pushers", authed, a.pushers)
	client("POST", "/pushers/set", authed, a.setPusher)
	client("GET", "/notifications", authed, a.notifications)

	client("GET", "/devices", authed, a.devices)
	client("GET", "/devices/{deviceId}", authed, a.device)
	client("PUT", "/devices/{deviceId}", authed, a.renameDevice)
	client("DELETE", "/devices/{deviceId}", authed, a.deleteDevice)
	client("POST", "/delete_devices", authed, a.deleteDevices)

	client("POST", "/keys/upload", authed, a.uploadKeys)
	client("POST", "/keys/query", authed, a.queryKeys)
	client("POST", "/keys/claim", authed, a.claimKeys)
	client("GET", "/keys/changes", authed, a.keyChanges)
	client("POST", "/keys/device_signing/upload", authed, a.uploadCrossSigning)
	client("POST", "/keys/signatures/upload", authed, a.uploadSignatures)
	client("PUT", "/sendToDevice/{eventType}/{txnId}", authed, a.sendToDevice)
	client("POST", "/room_keys/version", authed, a.createBackup)
	client("GET", "/room_keys/version", authed, a.backup)
	client("GET", "/room_keys/version/{version}", authed, a.backup)
	client("PUT", "/room_keys/version/{version}", authed, a.updateBackup)
	client("DELETE", "/room_keys/version/{version}", authed, a.deleteBackup)
	client("PUT", "/room_keys/keys", authed, a.putRoomKeys)
	client("GET", "/room_keys/keys", authed, a.roomKeys)
	client("DELETE", "/room_keys/keys", authed, a.deleteRoomKeys)
	client("PUT", "/room_keys/keys/{roomId}", authed, a.putRoomKeys)
	client("GET", "/room_keys/keys/{roomId}", authed, a.roomKeys)
	client("DELETE", "/room_keys/keys/{roomId}", authed, a.deleteRoomKeys)
	client("PUT", "/room_keys/keys/{roomId}/{sessionId}", authed, a.putRoomKeys)
	client("GET", "/room_keys/keys/{roomId}/{sessionId}", authed, a.roomKeys)
	client("DELETE", "/room_keys/keys/{roomId}/{sessionId}", authed, a.deleteRoomKeys)

	// Hearth's delivery state extension (unstable): where the sender's own
	// events are on their way to the room's other servers.
	//   GET …/rooms/{roomId}/events?event_id=$a&event_id=$b   (1–50 event_id; joined users)
	//   → {"events": {"$a": {"state": "delivered"|"mailbox"|"queued",
	//                        "waiting": {"<server name>": "mailbox"|"queued", …}}, …}}
	// state is the worst of waiting ("queued": still in this server's queue;
	// "mailbox": deposited in the server's mailbox on a relay), "delivered"
	// when no server waits (every one answered, or its mailbox handed it
	// over). An event of another server is "delivered": this one sends it to
	// no one. 400 M_INVALID_PARAM for a missing, malformed or 51st event_id,
	// 403 M_FORBIDDEN unless joined, 404 M_NOT_FOUND for an event not in the room.
	httproute.Handle(mux, "GET /_matrix/client/unstable/org.hearth.delivery/rooms/{roomId}/events", a.serve(authed, a.deliveryState))

	// The content repository: the deprecated unauthenticated v3 forms, which
	// clients still use, and the authenticated v1 forms of spec 1.11.
	for _, p := range []struct {
		prefix string
		acc    access
	}{{"/_matrix/media/v3", public}, {"/_matrix/media/r0", public}, {"/_matrix/client/v1/media", authed}} {
		httproute.Handle(mux, "GET "+p.prefix+"/config", a.serve(p.acc, a.mediaConfig))
		httproute.Handle(mux, "GET "+p.prefix+"/download/{serverName}/{mediaId}", a.serve(p.acc, a.download))
		httproute.Handle(mux, "GET "+p.prefix+"/download/{serverName}/{mediaId}/{fileName}", a.serve(p.acc, a.download))
		httproute.Handle(mux, "GET "+p.prefix+"/thumbnail/{serverName}/{mediaId}", a.serve(p.acc, a.thumbnail))
		httproute.Handle(mux, "GET "+p.prefix+"/preview_url", a.serve(p.acc, a.previewURL))
	}
	httproute.Handle(mux, "POST /_matrix/media/v3/upload", a.serve(authed, a.upload))
	httproute.Handle(mux, "POST /_matrix/media/r0/upload", a.serve(authed, a.upload))
	httproute.Handle(mux, "POST /_matrix/media/v1/create", a.serve(authed, a.createMedia))
	httproute.Handle(mux, "PUT /_matrix/media/v3/upload/{serverName}/{mediaId}", a.serve(authed, a.uploadCreated))

	httproute.Handle(mux, "/_matrix/", a.serve(public, unrecognized))
	httproute.Handle(mux, "/.well-known/matrix/", a.serve(public, func(req *request) (any, error) {
		return nil, notFound("no such well-known document: " + req.URL.Path)
	}))
	return cors(a.policy.CORSOrigins, mux)
}

// serve adapts a handler: authentication, then JSON in and out.
func (a *API) serve(acc access, h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req := &request{Request: r}
		if acc == authed {
			token, ok := accessToken(r)
			if !ok {
				writeError(w, r, errcode.New(http.StatusUnauthorized, "M_MISSING_TOKEN", "no access token given"))
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
		switch b := body.(type) {
		case withStatus:
			writeJSON(w, b.status, b.body)
			return
		case rawBody:
			b.write(w)
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

func unrecognized(req *request) (any, error) {
	return nil, errcode.New(http.StatusNotFound, "M_UNRECOGNIZED", "unrecognized request: "+req.Method+" "+req.URL.Path)
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
		"m.change_password": map[string]bool{"enabled": true},
		"m.set_displayname": map[string]bool{"enabled": true},
		"m.set_avatar_url":  map[string]bool{"enabled": true},
		"m.3pid_changes":    map[string]bool{"enabled": false},
		"m.get_login_token": map[string]bool{"enabled": false},
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
