package media

import (
	"errors"
	"fmt"
	"io/fs"

	"hearth/go/storage"
)

// Sentinel errors; the client API maps each to a Matrix errcode.
var (
	// ErrNotFound: no such media here, or its ID is not one a server mints.
	ErrNotFound = errors.New("media not found")
	// ErrTooLarge: one file over Limits.MaxFileBytes (M_TOO_LARGE).
	ErrTooLarge = errors.New("media too large")
	// ErrStoreFull: the media quota (Limits.QuotaBytes) is used up, or the
	// disk or browser refused the bytes. It wraps storage.ErrFull, so the
	// client API answers it as it answers a full database
	// (M_RESOURCE_LIMIT_EXCEEDED).
	ErrStoreFull = fmt.Errorf("media store full: %w", storage.ErrFull)
	// ErrNotYetUploaded: an ID created ahead of its upload, still waiting
	// for it (M_NOT_YET_UPLOADED).
	ErrNotYetUploaded = errors.New("media not yet uploaded")
	// ErrCannotOverwrite: an upload to an ID that already has its bytes, or
	// whose upload is under way (M_CANNOT_OVERWRITE_MEDIA).
	ErrCannotOverwrite = errors.New("media already uploaded")
	// ErrNotCreator: an upload to an ID another user created.
	ErrNotCreator = errors.New("media ID created by another user")
	// ErrTooManyPending: the user holds too many IDs not yet uploaded.
	ErrTooManyPending = errors.New("too many media IDs waiting for their upload")
	// ErrNoBlob: a BlobStore holds nothing under the key. It is also
	// fs.ErrNotExist, for callers that know nothing of media (go/room's ColdStore).
	ErrNoBlob error = notExist("no such blob")
	// ErrBadKey: a key a BlobStore refuses (see ValidKey).
	ErrBadKey = errors.New("bad blob key")
)

// notExist is an error that errors.Is reports as fs.ErrNotExist.
type notExist string

func (e notExist) Error() string { return string(e) }

func (e notExist) Is(target error) bool { return target == fs.ErrNotExist }
