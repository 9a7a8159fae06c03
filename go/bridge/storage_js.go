//go:build js

package bridge

import (
	"context"
	"errors"
	"fmt"
	"syscall/js"
)

// # hearthStorage, version 2
//
// JS (js/storage, createStorage) sets hearthStorage before the wasm starts,
// or a promise of it while it still opens: OpenStorage waits for that.
// It is one SQLite database (sql.js) with commit durability:
//
//	version                    number, storageVersion below
//	prepare(sql)               → handle (number) | {name, message}
//	paramsBuffer(size)         → a Uint8Array of at least size bytes, the
//	                             one that run and query read params from
//	resultBuffer()             → the Uint8Array that results are written to
//	run(handle, paramsLength)  → result length (number) | {name, message}
//	query(sql, paramsLength)   → result length | {name, message}
//	                             (prepare + run + finalize in one crossing;
//	                             JS caches the compiled statement)
//	exec(sql)                  → result length (a result without rows) |
//	                             {name, message} (a script of statements,
//	                             no parameters)
//	finalize(handle)           → undefined (unknown handles are ignored)
//	begin()                    → undefined | {name, message}
//	rollback()                 → undefined | {name, message}
//	commit()                   → Promise<undefined>, rejects with an Error
//	                             whose name is stable
//	stats()                    → {openStatements, handles, inTransaction,
//	                             seq, commits, journalBytesWritten, snapshots,
//	                             snapshotBytesWritten, persistFailures, reloads, …}
//
// Synchronous methods never throw; a failure comes back as a plain
// {name, message} object. Names (js/storage/errors.js):
//
//	SQLiteError            SQLite rejected the statement
//	SQLiteConstraintError  a constraint failed (UNIQUE, NOT NULL, FOREIGN KEY…)
//	StorageQuotaError      the browser or disk refused to store more; the
//	                       commit did not happen (Matrix: M_RESOURCE_LIMIT_EXCEEDED)
//	StoragePersistError    persisting failed otherwise; the commit did not happen
//	                       and never will (what was written of it is removed)
//	StorageOutcomeUnknownError  persisting failed and what was written could
//	                       not be removed: the commit may be durable or not;
//	                       the storage is closed
//	StorageTransactionError  begin inside a transaction, commit/rollback
//	                       outside one, a write while a commit is persisting
//	StorageClosedError     the storage is closed or an unknown handle was used
//
// Transactions: begin/commit/rollback are the only way to run BEGIN, COMMIT
// and ROLLBACK. A write outside a transaction autocommits in SQLite and its
// result carries the commit-required flag: the caller must then call commit(),
// which resolves once that write is durable. commit() always resolves only
// after the data is durable; if persisting fails, the database is reset to
// its last durable state and commit() rejects.
//
// params and result are binary (little-endian), so every SQLite value
// crosses exactly (a JS number cannot hold every int64, and syscall/js has
// no BigInt):
//
//	value  = u8 tag, payload
//	         0 NULL     no payload
//	         1 INTEGER  i64
//	         2 REAL     f64
//	         3 TEXT     u32 length, UTF-8 bytes
//	         4 BLOB     u32 length, bytes
//	params = u32 count, count × (u32 name length, name (UTF-8; empty for
//	         positional), value); null or an empty array for no params
//	result = u8 flags (bit 0: commit required), i64 changes,
//	         i64 last insert rowid, u32 column count,
//	         columns × (u32 length, UTF-8 name), u32 row count,
//	         rows × columns × value
//
// So one statement execution is one call, whatever the number of rows and
// cells. The bytes cross in two buffers that live as long as hearthStorage:
// Go writes params to the start of the params buffer and passes their length
// (-1 for none); JS writes the result to the start of the result buffer and
// returns its length. JS replaces the result buffer only by a larger one, in
// a call whose result no longer fits the old one, so a length above the
// buffer Go holds means Go must ask for the new one. No JS object is made or
// referenced per statement: each js.Value that refers to one costs Go a
// finalizer, and each new Uint8Array a JS allocation.

const storageVersion = 2

// Storage is Go's handle on hearthStorage. Its methods must be called from
// one goroutine at a time (the database/sql driver in go/storage/sqljs
// guarantees that); Commit blocks on a JS promise, so it must not be called
// from a js.FuncOf callback.
type Storage struct {
	v js.Value
	// params and result are JS's exchange buffers, with their lengths.
	params, result       js.Value
	paramsCap, resultCap int
}

// StmtHandle names a statement prepared in JS; Finalize frees it.
type StmtHandle int

// StorageStats are counters from the JS side, for tests and diagnostics.
type StorageStats struct {
	// OpenStatements is the number of compiled sql.js statements alive,
	// including JS's small cache of idle ones.
	OpenStatements int
	// Handles is the number of handles prepared and not yet finalized.
	Handles int
	// InTransaction: a transaction is open.
	InTransaction bool
	// Commits is the number of durable commits.
	Commits int
}

// ErrNoStorage: hearthStorage is not set, or speaks another version.
var ErrNoStorage = errors.New("hearthStorage is not set")

// OpenStorage returns the hearthStorage global, once it has opened.
func OpenStorage() (*Storage, error) {
	v, err := jsGlobalWhenSet(globalStorage)
	if err != nil {
		return nil, fmt.Errorf("hearthStorage did not open: %w", err)
	}
	if v.Type() != js.TypeObject {
		return nil, ErrNoStorage
	}
	if got := v.Get("version"); got.Type() != js.TypeNumber || got.Int() != storageVersion {
		return nil, fmt.Errorf("%w in version %d (got %v)", ErrNoStorage, storageVersion, got)
	}
	return &Storage{v: v}, nil
}

// Prepare compiles sql and returns its handle.
func (s *Storage) Prepare(sql string) (StmtHandle, error) {
	res, err := callJS(s.v, "prepare", sql)
	if err != nil {
		return 0, err
	}
	if res.Type() != js.TypeNumber {
		return 0, errorFromJS(res)
	}
	return StmtHandle(res.Int()), nil
}

// Finalize frees a handle from Prepare.
func (s *Storage) Finalize(h StmtHandle) {
	if _, err := callJS(s.v, "finalize", int(h)); err != nil {
		log.WithError(err).Warn("finalize statement")
	}
}

// Run executes a prepared statement to its end and returns every row.
func (s *Storage) Run(h StmtHandle, params []Param) (*Result, error) {
	n, err := s.writeParams(params)
	if err != nil {
		return nil, err
	}
	return s.readResult(callJS(s.v, "run", int(h), n))
}

// Query executes sql once (one crossing) and returns every row.
func (s *Storage) Query(sql string, params []Param) (*Result, error) {
	n, err := s.writeParams(params)
	if err != nil {
		return nil, err
	}
	return s.readResult(callJS(s.v, "query", sql, n))
}

// Exec runs a script of statements without parameters.
func (s *Storage) Exec(sql string) (*Result, error) {
	return s.readResult(callJS(s.v, "exec", sql))
}

// Begin opens a transaction.
func (s *Storage) Begin() error {
	return errorOrNil(callJS(s.v, "begin"))
}

// Rollback ends the open transaction, undoing it.
func (s *Storage) Rollback() error {
	return errorOrNil(callJS(s.v, "rollback"))
}

// Commit commits the open transaction, if any, and returns once every
// committed write is durable. If ctx ends first it returns ctx.Err(), and the
// commit may or may not become durable: pass a context that only ends when
// the answer no longer matters.
func (s *Storage) Commit(ctx context.Context) error {
	promise, err := callJS(s.v, "commit")
	if err != nil {
		return err
	}
	_, err = await(ctx, promise)
	return err
}

// Stats reads the JS counters.
func (s *Storage) Stats() StorageStats {
	v := s.v.Call("stats")
	return StorageStats{
		OpenStatements: v.Get("openStatements").Int(),
		Handles:        v.Get("handles").Int(),
		InTransaction:  v.Get("inTransaction").Bool(),
		Commits:        v.Get("commits").Int(),
	}
}

// writeParams encodes params into JS's params buffer and returns their
// length, -1 for none.
func (s *Storage) writeParams(params []Param) (int, error) {
	b, err := encodeParams(params)
	if err != nil || b == nil {
		return -1, err
	}
	if len(b) > s.paramsCap {
		buf, err := callJS(s.v, "paramsBuffer", len(b))
		if err != nil {
			return 0, err
		}
		size := buf.Get("length").Int()
		if size < len(b) {
			return 0, fmt.Errorf("hearthStorage.paramsBuffer(%d) is too small", len(b))
		}
		s.params, s.paramsCap = buf, size
	}
	js.CopyBytesToJS(s.params, b)
	return len(b), nil
}

// readResult takes callJS's answer: the length of the result in JS's result
// buffer, an {name, message}, or a thrown error.
func (s *Storage) readResult(v js.Value, err error) (*Result, error) {
	if err != nil {
		return nil, err
	}
	if v.Type() != js.TypeNumber {
		return nil, errorFromJS(v)
	}
	n := v.Int()
	if n > s.resultCap {
		buf, err := callJS(s.v, "resultBuffer")
		if err != nil {
			return nil, err
		}
		s.result, s.resultCap = buf, buf.Get("length").Int()
		if n > s.resultCap {
			return nil, fmt.Errorf("a result of %d bytes in hearthStorage's result buffer of %d", n, s.resultCap)
		}
	}
	b := make([]byte, n)
	js.CopyBytesToGo(b, s.result)
	return decodeResult(b)
}

func errorOrNil(v js.Value, err error) error {
	if err != nil {
		return err
	}
	if v.IsUndefined() || v.IsNull() {
		return nil
	}
	return errorFromJS(v)
}
