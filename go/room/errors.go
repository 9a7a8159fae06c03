package room

import "errors"

// Sentinel errors; the client API maps each to a Matrix errcode.
var (
	ErrRoomNotFound  = errors.New("room not found")
	ErrEventNotFound = errors.New("event not found")
	ErrForbidden     = errors.New("forbidden")
	ErrBadEvent      = errors.New("invalid event")
	ErrBadToken      = errors.New("invalid pagination token")
)

// ErrUnsupportedVersion is returned for a room version this server cannot create.
var ErrUnsupportedVersion = errors.New("unsupported room version")

// Sentinels of aliases and redactions.
var (
	ErrBadAlias      = errors.New("invalid room alias")
	ErrAliasInUse    = errors.New("room alias already taken")
	ErrAliasNotFound = errors.New("room alias not found")
	ErrStillJoined   = errors.New("user is still in the room")
)
