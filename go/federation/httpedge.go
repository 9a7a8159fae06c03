package federation

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/matrix-org/gomatrixserverlib/fclient"
	"github.com/matrix-org/gomatrixserverlib/spec"

	"hearth/go/room"
)

// request is what every federation handler gets: the HTTP request and, on
// signed routes, the verified origin and the body that was signed.
type request struct {
	*http.Request
	origin  spec.ServerName
	content []byte
}

// handler answers with a JSON body for 200 OK (a rawBody as is), or an error.
type handler func(req *request) (any, error)

// rawBody is a 200 answer that is not JSON (media downloads).
type rawBody struct {
	contentType string
	data        []byte
}

type access int

const (
	public access = iota // no signature needed (keys, version)
	signed               // X-Matrix signed by origin for this server, or 401 M_UNAUTHORIZED
)

// maxRequestBytes bounds a federation request body: a transaction is at most
// 50 PDUs and 100 EDUs of at most 64 KiB each (server-server API, "Transactions").
const maxRequestBytes = 16 << 20

// serve adapts a handler: X-Matrix verification, then JSON out.
func (f *Federation) serve(acc access, h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req := &request{Request: r}
		if acc == signed {
			r.Body = http.MaxBytesReader(w, r.Body, maxRequestBytes)
			origin, content, err := f.authenticate(r)
			if err != nil {
				writeError(w, r, err)
				return
			}
			req.origin, req.content = origin, content
		}
		body, err := h(req)
		if err != nil {
			writeError(w, r, err)
			return
		}
		if raw, ok := body.(rawBody); ok {
			w.Header().Set("Content-Type", raw.contentType)
			w.WriteHeader(http.StatusOK)
			w.Write(raw.data)
			return
		}
		writeJSON(w, http.StatusOK, body)
	})
}

// authenticate checks the X-Matrix Authorization header (server-server API,
// "Request Authentication"): addressed to this server, signed by the origin's
// key (read from its name) over method, URI, origin, destination and body.
func (f *Federation) authenticate(r *http.Request) (spec.ServerName, []byte, error) {
	var destination spec.ServerName
	for _, h := range r.Header.Values("Authorization") {
		if scheme, _, dest, _, _ := fclient.ParseAuthorization(h); scheme == "X-Matrix" {
			destination = dest
		}
	}
	if destination != "" && destination != f.id.ServerName {
		return "", nil, newError(http.StatusUnauthorized, "M_UNAUTHORIZED", "request is addressed to "+string(destination))
	}
	fr, resp := fclient.VerifyHTTPRequest(r, f.now(), f.id.ServerName, nil, keyRing{})
	if fr == nil {
		// resp carries gomatrixserverlib's reason as {"message": …}.
		var reason struct {
			Message string `json:"message"`
		}
		raw, _ := json.Marshal(resp.JSON)
		_ = json.Unmarshal(raw, &reason)
		return "", nil, newError(http.StatusUnauthorized, "M_UNAUTHORIZED", "invalid X-Matrix authorization: "+reason.Message)
	}
	if peer := f.requestPeer(r.Context()); peer != "" && spec.ServerName(peer) != fr.Origin() {
		return "", nil, newError(http.StatusUnauthorized, "M_UNAUTHORIZED", "request signed by "+string(fr.Origin())+" arrived from peer "+peer)
	}
	return fr.Origin(), fr.Content(), nil
}

// readContent decodes the signed body of a request.
func (req *request) readContent(v any) error {
	if len(req.content) == 0 {
		return newError(http.StatusBadRequest, "M_NOT_JSON", "request body is empty")
	}
	if err := json.Unmarshal(req.content, v); err != nil {
		return newError(http.StatusBadRequest, "M_BAD_JSON", "request body: "+err.Error())
	}
	return nil
}

// matrixError is an error answer with its errcode (server-server API uses
// the client-server API's "Standard error response").
type matrixError struct {
	Status  int    `json:"-"`
	ErrCode string `json:"errcode"`
	Message string `json:"error"`
}

func (e *matrixError) Error() string { return e.ErrCode + ": " + e.Message }

func newError(status int, errcode, message string) *matrixError {
	return &matrixError{Status: status, ErrCode: errcode, Message: message}
}

// errorTable maps sentinel errors to Matrix errors: the only place
// federation answers choose errcodes.
var errorTable = []struct {
	err     error
	status  int
	errcode string
}{
	{ErrUnauthorized, http.StatusUnauthorized, "M_UNAUTHORIZED"},
	{ErrNotInRoom, http.StatusForbidden, "M_FORBIDDEN"},
	{ErrNotVisible, http.StatusForbidden, "M_FORBIDDEN"},
	{ErrAliasNotFound, http.StatusNotFound, "M_NOT_FOUND"},
	{ErrBadToken, http.StatusBadRequest, "M_INVALID_PARAM"},
	{ErrBadRequest, http.StatusBadRequest, "M_BAD_JSON"},
	{ErrBadEvent, http.StatusBadRequest, "M_BAD_JSON"},
	{ErrIncompatibleVersion, http.StatusBadRequest, "M_INCOMPATIBLE_ROOM_VERSION"},
	{room.ErrRoomNotFound, http.StatusNotFound, "M_NOT_FOUND"},
	{room.ErrEventNotFound, http.StatusNotFound, "M_NOT_FOUND"},
	{room.ErrForbidden, http.StatusForbidden, "M_FORBIDDEN"},
	{room.ErrBadEvent, http.StatusBadRequest, "M_BAD_JSON"},
	{room.ErrUnsupportedVersion, http.StatusBadRequest, "M_UNSUPPORTED_ROOM_VERSION"},
}

func toMatrixError(err error) *matrixError {
	var me *matrixError
	if errors.As(err, &me) {
		return me
	}
	for _, e := range errorTable {
		if errors.Is(err, e.err) {
			return newError(e.status, e.errcode, err.Error())
		}
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return newError(http.StatusServiceUnavailable, "M_UNKNOWN", "request cancelled: "+err.Error())
	}
	return newError(http.StatusInternalServerError, "M_UNKNOWN", "internal error")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		log.WithError(err).Error("marshal response")
		status, body = http.StatusInternalServerError, []byte(`{"errcode":"M_UNKNOWN","error":"internal error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(body)
}

func writeError(w http.ResponseWriter, r *http.Request, err error) {
	me := toMatrixError(err)
	if me.Status >= 500 {
		log.WithError(err).WithField("path", r.URL.Path).Error("federation request failed")
	}
	writeJSON(w, me.Status, me)
}
