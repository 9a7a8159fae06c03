package federation

import (
	"errors"
	"fmt"
)

// Sentinel errors; the federation HTTP edge (httperr.go) and the client API
// map them to Matrix errcodes.
var (
	// ErrUnauthorized: an incoming request's X-Matrix signature or destination is wrong.
	ErrUnauthorized = errors.New("request not signed by its origin for this server")
	// ErrNotInRoom: the requesting server has no joined member in the room.
	ErrNotInRoom = errors.New("server is not in the room")
	// ErrNotVisible: the room's history visibility hides the event from the
	// requesting server's users.
	ErrNotVisible = errors.New("event not visible to the requesting server")
	// ErrAliasNotFound: no room has that alias.
	ErrAliasNotFound = errors.New("room alias not found")
	// ErrBadToken: a paging token or limit (since, limit) is not valid.
	ErrBadToken = errors.New("invalid paging parameter")
	// ErrBadRequest: the request is malformed.
	ErrBadRequest = errors.New("bad request")
	// ErrIncompatibleVersion: the room's version is not one the other side supports.
	ErrIncompatibleVersion = errors.New("incompatible room version")
	// ErrBadEvent: an event failed its hash, signature or shape checks.
	ErrBadEvent = errors.New("invalid event")
	// ErrUnreachable: no server that could help answered.
	ErrUnreachable = errors.New("no server reachable")
)

// RemoteError is an error answer from another server. Callers branch on
// Status (e.g. 403 from make_join means "not allowed", not "try elsewhere").
type RemoteError struct {
	Server  string
	Status  int
	ErrCode string
	Message string
}

func (e *RemoteError) Error() string {
	return fmt.Sprintf("server %s answered %d %s: %s", e.Server, e.Status, e.ErrCode, e.Message)
}
