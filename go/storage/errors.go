package storage

import "errors"

// ErrFull means the disk, or the browser's storage quota, refused the write:
// nothing of it was committed. The client API answers M_RESOURCE_LIMIT_EXCEEDED.
var ErrFull = errors.New("storage is full")
