package federation

import (
	"encoding/json"
	"net/http"

	"github.com/matrix-org/gomatrixserverlib/fclient"
	"github.com/matrix-org/gomatrixserverlib/spec"

	"hearth/go/errcode"
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
	if _, destination := xMatrix(r.Header); destination != "" && destination != f.id.ServerName {
		return "", nil, errcode.New(http.StatusUnauthorized, "M_UNAUTHORIZED", "request is addressed to "+string(destination))
	}
	fr, resp := fclient.VerifyHTTPRequest(r, f.opts.Now(), f.id.ServerName, nil, keyRing{})
	if fr == nil {
		// resp carries gomatrixserverlib's reason as {"message": …}.
		var reason struct {
			Message string `json:"message"`
		}
		raw, _ := json.Marshal(resp.JSON)
		_ = json.Unmarshal(raw, &reason)
		return "", nil, errcode.New(http.StatusUnauthorized, "M_UNAUTHORIZED", "invalid X-Matrix authorization: "+reason.Message)
	}
	if peer := f.opts.RequestPeer(r.Context()); peer != "" && spec.ServerName(peer) != fr.Origin() {
		return "", nil, errcode.New(http.StatusUnauthorized, "M_UNAUTHORIZED", "request signed by "+string(fr.Origin())+" arrived from peer "+peer)
	}
	return fr.Origin(), fr.Content(), nil
}

// xMatrix returns the origin and destination an X-Matrix Authorization
// header claims, unchecked ("" for none).
func xMatrix(h http.Header) (origin, destination spec.ServerName) {
	for _, v := range h.Values("Authorization") {
		if scheme, o, d, _, _ := fclient.ParseAuthorization(v); scheme == "X-Matrix" {
			origin, destination = o, d
		}
	}
	return origin, destination
}

// readContent decodes the signed body of a request.
func (req *request) readContent(v any) error {
	if len(req.content) == 0 {
		return errcode.New(http.StatusBadRequest, "M_NOT_JSON", "request body is empty")
	}
	if err := json.Unmarshal(req.content, v); err != nil {
		return errcode.New(http.StatusBadRequest, "M_BAD_JSON", "request body: "+err.Error())
	}
	return nil
}

// errorTable maps sentinel errors to Matrix errors: the only place
// federation answers choose errcodes.
var errorTable = []errcode.Rule{
	{Err: ErrUnauthorized, Status: http.StatusUnauthorized, ErrCode: "M_UNAUTHORIZED"},
	{Err: ErrNotInRoom, Status: http.StatusForbidden, ErrCode: "M_FORBIDDEN"},
	{Err: ErrNotVisible, Status: http.StatusForbidden, ErrCode: "M_FORBIDDEN"},
	{Err: ErrAliasNotFound, Status: http.StatusNotFound, ErrCode: "M_NOT_FOUND"},
	{Err: ErrBadToken, Status: http.StatusBadRequest, ErrCode: "M_INVALID_PARAM"},
	{Err: ErrBadRequest, Status: http.StatusBadRequest, ErrCode: "M_BAD_JSON"},
	{Err: ErrBadEvent, Status: http.StatusBadRequest, ErrCode: "M_BAD_JSON"},
	{Err: ErrIncompatibleVersion, Status: http.StatusBadRequest, ErrCode: "M_INCOMPATIBLE_ROOM_VERSION"},
	{Err: room.ErrRoomNotFound, Status: http.StatusNotFound, ErrCode: "M_NOT_FOUND"},
	{Err: room.ErrEventNotFound, Status: http.StatusNotFound, ErrCode: "M_NOT_FOUND"},
	{Err: room.ErrForbidden, Status: http.StatusForbidden, ErrCode: "M_FORBIDDEN"},
	{Err: room.ErrBadEvent, Status: http.StatusBadRequest, ErrCode: "M_BAD_JSON"},
	{Err: room.ErrUnsupportedVersion, Status: http.StatusBadRequest, ErrCode: "M_UNSUPPORTED_ROOM_VERSION"},
}

func toMatrixError(err error) *errcode.Error {
	if e := errcode.Match(err, errorTable, errcode.Cancelled); e != nil {
		return e
	}
	return errcode.Internal()
}

func writeJSON(w http.ResponseWriter, status int, v any) { errcode.WriteJSON(w, status, v) }

func writeError(w http.ResponseWriter, r *http.Request, err error) {
	errcode.Write(w, r, toMatrixError(err), err, log)
}
