package media

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/matrix-org/gomatrixserverlib/spec"
)

// Blob keys name media bytes in a BlobStore:
//
//	local/<media ID>                 an upload to this server
//	remote/<server name>/<media ID>  another server's file, cached
//	event/<stream position>          an old event's JSON (EventBlobs)
//
// Every part is checked (validMediaID, validServerName, validPosition), so
// a key is also a safe relative file path and an IndexedDB key, and the
// export of the portability issue can tell uploads from cache by the prefix.
// js/blobs/keys.js checks the same shapes.
const (
	localPrefix  = "local/"
	remotePrefix = "remote/"
	eventPrefix  = "event/"
)

// maxKeyPart is the longest media ID or server name a key may hold.
const maxKeyPart = 255

// validMediaID: 1–255 of what this server mints (base64url) and what the
// client-server API's "Matrix Content (mxc://) URIs" section says media IDs
// consist of, [A-Za-z0-9_-]; anything else names no media. (Checked by hand,
// not with a regexp: `{1,255}` compiles to 255 copies of the class, ~0.5 MB
// and ~13 ms of every wasm start-up.)
func validMediaID(id string) bool {
	return validPart(id, func(c byte) bool { return c == '_' || c == '-' })
}

// validServerName: 1–255 of the server-server API's server name grammar (DNS
// name, IPv4, or bracketed IPv6, with an optional port), [A-Za-z0-9.:[]-],
// loosely: it only has to keep keys free of '/' and of "." and ".." parts.
func validServerName(s string) bool {
	ok := validPart(s, func(c byte) bool { return c == '.' || c == ':' || c == '[' || c == ']' || c == '-' })
	return ok && s != "." && s != ".."
}

// validPart reports whether s has 1–maxKeyPart bytes, each an ASCII letter
// or digit or one that extra accepts.
func validPart(s string, extra func(c byte) bool) bool {
	if len(s) == 0 || len(s) > maxKeyPart {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || extra(c)) {
			return false
		}
	}
	return true
}

func localKey(mediaID string) (string, error) {
	if !validMediaID(mediaID) {
		return "", fmt.Errorf("%w: media ID %q", ErrNotFound, mediaID)
	}
	return localPrefix + mediaID, nil
}

func remoteKey(server spec.ServerName, mediaID string) (string, error) {
	if !validMediaID(mediaID) || !validServerName(string(server)) {
		return "", fmt.Errorf("%w: %s/%s", ErrNotFound, server, mediaID)
	}
	return remotePrefix + string(server) + "/" + mediaID, nil
}

// ValidKey reports whether key has one of the shapes above. Stores check it,
// so no key reaches a file system path or a JS store unchecked.
func ValidKey(key string) bool {
	if id, ok := strings.CutPrefix(key, localPrefix); ok {
		return validMediaID(id)
	}
	if pos, ok := strings.CutPrefix(key, eventPrefix); ok {
		return validPosition(pos)
	}
	rest, ok := strings.CutPrefix(key, remotePrefix)
	if !ok {
		return false
	}
	server, id, ok := strings.Cut(rest, "/")
	return ok && validServerName(server) && validMediaID(id)
}

// validPosition: a stream position as EventBlobs writes it, a positive
// decimal integer without leading zeros, so that each position has one key.
func validPosition(s string) bool {
	if len(s) == 0 || len(s) > 19 || s[0] == '0' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// validPrefix: "" or one of the prefixes above, what Keys lists by.
func validPrefix(p string) bool {
	return p == "" || p == localPrefix || p == remotePrefix || p == eventPrefix
}

func eventKey(pos int64) string { return eventPrefix + strconv.FormatInt(pos, 10) }
