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

// The API's prefixes: v3 (r0, its name before spec 1.1, is answered as v3),
// v1 for what the spec added under it, and the content repository's.
const (
	clientV3 = "/_matrix/client/v3"
	clientV1 = "/_matrix/client/v1"

	mediaV3 = "/_matrix/media/v3"
	mediaR0 = "/_matrix/media/r0"
	mediaV1 = clientV1 + "/media"
)

// route is one line of the route table: method, path, whether it needs a
// token, and the method that answers.
type route struct {
	method, path string
	acc          access
	answer       func(*API, *request) (any, error)
}

// routes is the client-server API's route table, one route a line. It is
// data, not a function of ~150 calls: in wasm every call site is a resumption
// point of the function's loop, so V8 took such a function, run once at
// start, for hot and optimised it at every start without cached code.
var routes = [...]route{
	{"GET", "/_matrix/client/versions", public, (*API).versions},
	{"GET", "/.well-known/matrix/client", public, (*API).wellKnown},

	{"GET", clientV3 + "/login", public, (*API).loginFlows},
	{"POST", clientV3 + "/login", public, (*API).login},
	{"POST", clientV3 + "/register", public, (*API).register},
	{"GET", clientV3 + "/register/available", public, (*API).usernameAvailable},
	{"GET", clientV3 + "/account/whoami", authed, (*API).whoami},
	{"POST", clientV3 + "/account/password", authed, (*API).changePassword},
	{"POST", clientV3 + "/account/deactivate", authed, (*API).deactivate},
	{"POST", clientV3 + "/logout", authed, (*API).logout},
	{"POST", clientV3 + "/logout/all", authed, (*API).logoutAll},
	{"GET", clientV3 + "/capabilities", authed, (*API).capabilities},

	{"POST", clientV3 + "/createRoom", authed, (*API).createRoom},
	{"GET", clientV3 + "/joined_rooms", authed, (*API).joinedRooms},
	{"PUT", clientV3 + "/rooms/{roomId}/send/{eventType}/{txnId}", authed, (*API).sendMessage},
	{"GET", clientV3 + "/rooms/{roomId}/state", authed, (*API).roomState},
	{"GET", clientV3 + "/rooms/{roomId}/state/{eventType}", authed, (*API).getState},
	{"GET", clientV3 + "/rooms/{roomId}/state/{eventType}/{stateKey...}", authed, (*API).getState},
	{"PUT", clientV3 + "/rooms/{roomId}/state/{eventType}", authed, (*API).putState},
	{"PUT", clientV3 + "/rooms/{roomId}/state/{eventType}/{stateKey...}", authed, (*API).putState},
	{"GET", clientV3 + "/rooms/{roomId}/messages", authed, (*API).messages},
	{"POST", clientV3 + "/rooms/{roomId}/join", authed, (*API).join},
	{"POST", clientV3 + "/join/{roomIdOrAlias}", authed, (*API).join},
	{"POST", clientV3 + "/rooms/{roomId}/leave", authed, (*API).leave},
	{"POST", clientV3 + "/rooms/{roomId}/invite", authed, (*API).invite},
	{"POST", clientV3 + "/rooms/{roomId}/kick", authed, (*API).kick},
	{"POST", clientV3 + "/rooms/{roomId}/ban", authed, (*API).ban},
	{"POST", clientV3 + "/rooms/{roomId}/unban", authed, (*API).unban},
	{"GET", clientV3 + "/publicRooms", public, (*API).publicRooms},
	{"POST", clientV3 + "/publicRooms", authed, (*API).publicRooms},
	{"GET", clientV3 + "/directory/list/room/{roomId}", public, (*API).directoryVisibility},
	{"PUT", clientV3 + "/directory/list/room/{roomId}", authed, (*API).setDirectoryVisibility},
	{"GET", clientV3 + "/sync", authed, (*API).sync},

	{"GET", clientV3 + "/profile/{userId}", public, (*API).getProfile},
	{"GET", clientV3 + "/profile/{userId}/{field}", public, (*API).getProfileField},
	{"PUT", clientV3 + "/profile/{userId}/{field}", authed, (*API).putProfileField},
	{"POST", clientV3 + "/user_directory/search", authed, (*API).searchUsers},
	{"POST", clientV3 + "/search", authed, (*API).search},

	{"PUT", clientV3 + "/directory/room/{alias}", authed, (*API).putAlias},
	{"GET", clientV3 + "/directory/room/{alias}", public, (*API).getAlias},
	{"DELETE", clientV3 + "/directory/room/{alias}", authed, (*API).deleteAlias},
	{"GET", clientV3 + "/rooms/{roomId}/aliases", authed, (*API).roomAliases},

	{"PUT", clientV3 + "/rooms/{roomId}/redact/{eventId}/{txnId}", authed, (*API).redact},
	{"GET", clientV3 + "/rooms/{roomId}/context/{eventId}", authed, (*API).eventContext},
	{"GET", clientV3 + "/rooms/{roomId}/event/{eventId}", authed, (*API).getEvent},
	{"GET", clientV3 + "/rooms/{roomId}/members", authed, (*API).members},
	{"GET", clientV3 + "/rooms/{roomId}/joined_members", authed, (*API).joinedMembers},
	{"GET", clientV1 + "/rooms/{roomId}/relations/{eventId}", authed, (*API).relations},
	{"GET", clientV1 + "/rooms/{roomId}/relations/{eventId}/{relType}", authed, (*API).relations},
	{"GET", clientV1 + "/rooms/{roomId}/relations/{eventId}/{relType}/{eventType}", authed, (*API).relations},
	{"GET", clientV1 + "/rooms/{roomId}/threads", authed, (*API).threads},
	{"POST", clientV3 + "/rooms/{roomId}/forget", authed, (*API).forget},
	{"POST", clientV3 + "/rooms/{roomId}/upgrade", authed, (*API).upgradeRoom},

	{"PUT", clientV3 + "/rooms/{roomId}/typing/{userId}", authed, (*API).typing},
	{"POST", clientV3 + "/rooms/{roomId}/receipt/{receiptType}/{eventId}", authed, (*API).receipt},
	{"POST", clientV3 + "/rooms/{roomId}/read_markers", authed, (*API).readMarkers},
	{"GET", clientV3 + "/presence/{userId}/status", authed, (*API).getPresence},
	{"PUT", clientV3 + "/presence/{userId}/status", authed, (*API).putPresence},

	{"GET", clientV3 + "/user/{userId}/account_data/{type}", authed, (*API).getAccountData},
	{"PUT", clientV3 + "/user/{userId}/account_data/{type}", authed, (*API).putAccountData},
	{"GET", clientV3 + "/user/{userId}/rooms/{roomId}/account_data/{type}", authed, (*API).getAccountData},
	{"PUT", clientV3 + "/user/{userId}/rooms/{roomId}/account_data/{type}", authed, (*API).putAccountData},
	{"POST", clientV3 + "/user/{userId}/filter", authed, (*API).createFilter},
	{"GET", clientV3 + "/user/{userId}/filter/{filterId}", authed, (*API).getFilter},
	{"GET", clientV3 + "/pushrules/", authed, (*API).pushRules},
	{"GET", clientV3 + "/pushrules/global/", authed, (*API).pushRules},
	{"GET", clientV3 + "/pushrules/global/{kind}/{ruleId}", authed, (*API).pushRule},
	{"PUT", clientV3 + "/pushrules/global/{kind}/{ruleId}", authed, (*API).putPushRule},
	{"DELETE", clientV3 + "/pushrules/global/{kind}/{ruleId}", authed, (*API).deletePushRule},
	{"GET", clientV3 + "/pushrules/global/{kind}/{ruleId}/{attr}", authed, (*API).pushRuleAttr},
	{"PUT", clientV3 + "/pushrules/global/{kind}/{ruleId}/{attr}", authed, (*API).putPushRuleAttr},
	{"GET", clientV3 + "/pushers", authed, (*API).pushers},
	{"POST", clientV3 + "/pushers/set", authed, (*API).setPusher},
	{"GET", clientV3 + "/notifications", authed, (*API).notifications},

	{"GET", clientV3 + "/devices", authed, (*API).devices},
	{"GET", clientV3 + "/devices/{deviceId}", authed, (*API).device},
	{"PUT", clientV3 + "/devices/{deviceId}", authed, (*API).renameDevice},
	{"DELETE", clientV3 + "/devices/{deviceId}", authed, (*API).deleteDevice},
	{"POST", clientV3 + "/delete_devices", authed, (*API).deleteDevices},

	{"POST", clientV3 + "/keys/upload", authed, (*API).uploadKeys},
	{"POST", clientV3 + "/keys/query", authed, (*API).queryKeys},
	{"POST", clientV3 + "/keys/claim", authed, (*API).claimKeys},
	{"GET", clientV3 + "/keys/changes", authed, (*API).keyChanges},
	{"POST", clientV3 + "/keys/device_signing/upload", authed, (*API).uploadCrossSigning},
	{"POST", clientV3 + "/keys/signatures/upload", authed, (*API).uploadSignatures},
	{"PUT", clientV3 + "/sendToDevice/{eventType}/{txnId}", authed, (*API).sendToDevice},
	{"POST", clientV3 + "/room_keys/version", authed, (*API).createBackup},
	{"GET", clientV3 + "/room_keys/version", authed, (*API).backup},
	{"GET", clientV3 + "/room_keys/version/{version}", authed, (*API).backup},
	{"PUT", clientV3 + "/room_keys/version/{version}", authed, (*API).updateBackup},
	{"DELETE", clientV3 + "/room_keys/version/{version}", authed, (*API).deleteBackup},
	{"PUT", clientV3 + "/room_keys/keys", authed, (*API).putRoomKeys},
	{"GET", clientV3 + "/room_keys/keys", authed, (*API).roomKeys},
	{"DELETE", clientV3 + "/room_keys/keys", authed, (*API).deleteRoomKeys},
	{"PUT", clientV3 + "/room_keys/keys/{roomId}", authed, (*API).putRoomKeys},
	{"GET", clientV3 + "/room_keys/keys/{roomId}", authed, (*API).roomKeys},
	{"DELETE", clientV3 + "/room_keys/keys/{roomId}", authed, (*API).deleteRoomKeys},
	{"PUT", clientV3 + "/room_keys/keys/{roomId}/{sessionId}", authed, (*API).putRoomKeys},
	{"GET", clientV3 + "/room_keys/keys/{roomId}/{sessionId}", authed, (*API).roomKeys},
	{"DELETE", clientV3 + "/room_keys/keys/{roomId}/{sessionId}", authed, (*API).deleteRoomKeys},

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
	{"GET", "/_matrix/client/unstable/org.hearth.delivery/rooms/{roomId}/events", authed, (*API).deliveryState},

	// The content repository: the deprecated unauthenticated v3 forms, which
	// clients still use, and the authenticated v1 forms of spec 1.11.
	{"GET", mediaV3 + "/config", public, (*API).mediaConfig},
	{"GET", mediaV3 + "/download/{serverName}/{mediaId}", public, (*API).download},
	{"GET", mediaV3 + "/download/{serverName}/{mediaId}/{fileName}", public, (*API).download},
	{"GET", mediaV3 + "/thumbnail/{serverName}/{mediaId}", public, (*API).thumbnail},
	{"GET", mediaV3 + "/preview_url", public, (*API).previewURL},
	{"GET", mediaR0 + "/config", public, (*API).mediaConfig},
	{"GET", mediaR0 + "/download/{serverName}/{mediaId}", public, (*API).download},
	{"GET", mediaR0 + "/download/{serverName}/{mediaId}/{fileName}", public, (*API).download},
	{"GET", mediaR0 + "/thumbnail/{serverName}/{mediaId}", public, (*API).thumbnail},
	{"GET", mediaR0 + "/preview_url", public, (*API).previewURL},
	{"GET", mediaV1 + "/config", authed, (*API).mediaConfig},
	{"GET", mediaV1 + "/download/{serverName}/{mediaId}", authed, (*API).download},
	{"GET", mediaV1 + "/download/{serverName}/{mediaId}/{fileName}", authed, (*API).download},
	{"GET", mediaV1 + "/thumbnail/{serverName}/{mediaId}", authed, (*API).thumbnail},
	{"GET", mediaV1 + "/preview_url", authed, (*API).previewURL},
	{"POST", mediaV3 + "/upload", authed, (*API).upload},
	{"POST", mediaR0 + "/upload", authed, (*API).upload},
	{"POST", "/_matrix/media/v1/create", authed, (*API).createMedia},
	{"PUT", mediaV3 + "/upload/{serverName}/{mediaId}", authed, (*API).uploadCreated},
}

// Handler returns the client-server API, with the policy's CORS, as an http.Handler.
func (a *API) Handler() http.Handler {
	mux := http.NewServeMux()
	httproute.Alias(mux, "/_matrix/client/r0/", clientV3+"/")
	for _, r := range routes {
		httproute.Handle(mux, r.method+" "+r.path, a.serve(r.acc, a.bind(r.answer)))
	}

	httproute.Handle(mux, "/_matrix/", a.serve(public, unrecognized))
	httproute.Handle(mux, "/.well-known/matrix/", a.serve(public, func(req *request) (any, error) {
		return nil, notFound("no such well-known document: " + req.URL.Path)
	}))
	return cors(a.policy.CORSOrigins, mux)
}

// bind makes a route's method a handler of this API.
func (a *API) bind(answer func(*API, *request) (any, error)) handler {
	return func(req *request) (any, error) { return answer(a, req) }
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
