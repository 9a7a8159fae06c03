package media

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/matrix-org/gomatrixserverlib/spec"
)

// Blob keys name media bytes in a BlobStore:
//
//	local/<media ID>                 an upload to this server
//	remote/<server name>/<media ID>  another server's file, cached
//
// Every part is checked (mediaIDPattern, serverNamePattern), so a key is
// also a safe relative file path and an IndexedDB key, and the export of the
// portability issue can tell uploads from cache by the prefix.
const (
	localPrefix  = "local/"
	remotePrefix = "remote/"
)

// mediaIDPattern is what this server mints (base64url) and what the
// client-server API's "Matrix Content (mxc://) URIs" section says media IDs
// consist of; anything else names no media.
var mediaIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,255}$`)

// serverNamePattern is the server-server API's server name grammar (DNS
// name, IPv4, or bracketed IPv6, with an optional port), loosely: it only has
// to keep keys free of '/' and of "." and ".." parts.
var serverNamePattern = regexp.MustCompile(`^[A-Za-z0-9.:\[\]-]{1,255}$`)

func localKey(mediaID string) (string, error) {
	if !mediaIDPattern.MatchString(mediaID) {
		return "", fmt.Errorf("%w: media ID %q", ErrNotFound, mediaID)
	}
	return localPrefix + mediaID, nil
}

func remoteKey(server spec.ServerName, mediaID string) (string, error) {
	if !mediaIDPattern.MatchString(mediaID) || !validServerName(string(server)) {
		return "", fmt.Errorf("%w: %s/%s", ErrNotFound, server, mediaID)
	}
	return remotePrefix + string(server) + "/" + mediaID, nil
}

func validServerName(s string) bool {
	return serverNamePattern.MatchString(s) && s != "." && s != ".."
}

// ValidKey reports whether key has one of the shapes above. Stores check it,
// so no key reaches a file system path or a JS store unchecked.
func ValidKey(key string) bool {
	if id, ok := strings.CutPrefix(key, localPrefix); ok {
		return mediaIDPattern.MatchString(id)
	}
	rest, ok := strings.CutPrefix(key, remotePrefix)
	if !ok {
		return false
	}
	server, id, ok := strings.Cut(rest, "/")
	return ok && validServerName(server) && mediaIDPattern.MatchString(id)
}
