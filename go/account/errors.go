package account

import "errors"

// Sentinel errors; the client API maps each to a Matrix errcode.
var (
	ErrUserInUse       = errors.New("user ID already taken")
	ErrInvalidUsername = errors.New("invalid username")
	ErrBadPassword     = errors.New("password not acceptable")
	ErrWrongLogin      = errors.New("invalid username or password")
	ErrUnknownToken    = errors.New("unknown access token")
)

// More sentinels for profiles and devices.
var (
	ErrUnknownUser   = errors.New("no such user")
	ErrBadProfile    = errors.New("profile field not acceptable")
	ErrUnknownDevice = errors.New("no such device")
	ErrBadDevice     = errors.New("device ID or name not acceptable")
)

// ErrBadPusher means a pusher lacks a required field or has one the spec refuses.
var ErrBadPusher = errors.New("pusher not acceptable")
