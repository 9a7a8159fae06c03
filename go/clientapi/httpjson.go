package clientapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"unicode/utf8"

	"hearth/go/errcode"
)

// maxBodyBytes bounds a JSON request body; events are at most 64 KiB
// (server-server API, "Size limits") and no client request needs more.
const maxBodyBytes = 1 << 20

// maxJSONDepth bounds how deeply a request body nests objects and arrays.
// Events and their content become other clients' and servers' input, and
// Go's decoder allows 10,000 levels; no Matrix body needs more than a few.
const maxJSONDepth = 64

// jsonDepth returns how deeply valid JSON nests objects and arrays.
func jsonDepth(valid []byte) int {
	depth, deepest, inString, escaped := 0, 0, false, false
	for _, c := range valid {
		switch {
		case escaped:
			escaped = false
		case inString:
			escaped = c == '\\'
			inString = c != '"'
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
			deepest = max(deepest, depth)
		case c == '}' || c == ']':
			depth--
		}
	}
	return deepest
}

// readJSON decodes a request body into v: M_NOT_JSON when it is not JSON at
// all, M_BAD_JSON when it is JSON of the wrong shape, M_TOO_LARGE past the limit.
func readJSON(r *http.Request, v any) error {
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return errcode.New(http.StatusRequestEntityTooLarge, "M_TOO_LARGE", fmt.Sprintf("request body over %d bytes", maxBodyBytes))
		}
		return errcode.New(http.StatusBadRequest, "M_UNKNOWN", "read request body: "+err.Error())
	}
	if len(body) == 0 {
		body = []byte("{}")
	}
	if !json.Valid(body) || !utf8.Valid(body) {
		return errcode.New(http.StatusBadRequest, "M_NOT_JSON", "request body is not valid JSON in UTF-8")
	}
	if jsonDepth(body) > maxJSONDepth {
		return badJSON(fmt.Sprintf("request body nests deeper than %d levels", maxJSONDepth))
	}
	if err := json.Unmarshal(body, v); err != nil {
		return badJSON("request body has the wrong shape: " + err.Error())
	}
	return nil
}

// readJSONObject reads a body that must be a JSON object, kept raw.
func readJSONObject(r *http.Request) (json.RawMessage, error) {
	var obj map[string]json.RawMessage
	if err := readJSON(r, &obj); err != nil {
		return nil, err
	}
	if obj == nil {
		return nil, badJSON("request body must be a JSON object")
	}
	return json.Marshal(obj)
}

func writeJSON(w http.ResponseWriter, status int, v any) { errcode.WriteJSON(w, status, v) }

func writeError(w http.ResponseWriter, r *http.Request, err error) {
	errcode.Write(w, r, toMatrixError(err), err, log)
}

// rawBody is a non-JSON 200 response: media downloads.
type rawBody struct {
	contentType string
	// disposition is the Content-Disposition header; "" for none.
	disposition string
	data        []byte
}

func (b rawBody) write(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", b.contentType)
	if b.disposition != "" {
		h.Set("Content-Disposition", b.disposition)
	}
	// Uploaded files are not trusted pages: never sniff or run them on this
	// origin (client-server API, "Content repository", security considerations).
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "sandbox; default-src 'none'; script-src 'none'; plugin-types application/pdf; style-src 'unsafe-inline'; media-src 'self'; object-src 'self';")
	h.Set("Cross-Origin-Resource-Policy", "cross-origin")
	h.Set("Content-Length", strconv.Itoa(len(b.data)))
	w.WriteHeader(http.StatusOK)
	w.Write(b.data)
}
