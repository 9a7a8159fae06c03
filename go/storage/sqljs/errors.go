package sqljs

import "errors"

// Sentinels for the storage errors callers branch on. Errors returned by the
// driver wrap one of these (when it applies) and the *bridge.Error carrying
// the JS name and message, so both errors.Is and errors.As work.
var (
	// ErrQuotaExceeded: the browser or disk refused to store more. The
	// commit did not happen. Maps to M_RESOURCE_LIMIT_EXCEEDED.
	ErrQuotaExceeded = errors.New("storage quota exceeded")
	// ErrConstraint: a UNIQUE, NOT NULL, CHECK, FOREIGN KEY or PRIMARY KEY
	// constraint failed.
	ErrConstraint = errors.New("constraint failed")
	// ErrNotDurable: persisting a commit failed for another reason; the
	// commit did not happen.
	ErrNotDurable = errors.New("commit could not be persisted")
	// ErrOutcomeUnknown: persisting a commit failed after its journal record
	// was written, and the record could not be removed, so the commit may or
	// may not be durable. The storage has closed (every later call fails);
	// the next start reads what the disk kept. Callers must not report the
	// commit as failed, nor as done.
	ErrOutcomeUnknown = errors.New("commit outcome unknown")
	// ErrOneConnection: a second connection was asked for; sql.js is one
	// connection, so open the *sql.DB with SetMaxOpenConns(1).
	ErrOneConnection = errors.New("sqljs: only one connection at a time; call SetMaxOpenConns(1)")
)

// sentinelFor maps a JS error name (js/storage/errors.js) to a sentinel.
func sentinelFor(name string) error {
	switch name {
	case "StorageQuotaError":
		return ErrQuotaExceeded
	case "SQLiteConstraintError":
		return ErrConstraint
	case "StoragePersistError":
		return ErrNotDurable
	case "StorageOutcomeUnknownError":
		return ErrOutcomeUnknown
	}
	return nil
}
