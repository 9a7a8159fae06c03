package room

import "errors"

// Sentinel errors; the client API maps each to a Matrix errcode.
var (
	ErrRoomNotFound  = errors.New("room not found")
	ErrEventNotFound = errors.New("event not found")
	ErrForbidden     = errors.New("forbidden")
	ErrBadEvent      = errors.New("invalid event")
	// ErrEventTooLarge: the event would be over the spec's 65,536 bytes, or
	// its type or state key over 255 (server-server API, "Size limits").
	ErrEventTooLarge = errors.New("event too large")
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
