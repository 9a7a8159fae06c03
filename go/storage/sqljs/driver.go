//go:build js

// Package sqljs is a database/sql driver over hearthStorage: SQLite in
// sql.js, reached through go/bridge. Open it with
//
//	c, err := sqljs.NewConnector()
//	db := sql.OpenDB(c)
//	db.SetMaxOpenConns(1)
//
// sql.js is one SQLite connection, so the driver hands out one connection
// at a time (Connect fails with ErrOneConnection otherwise) and
// SetMaxOpenConns(1) makes database/sql queue for it instead of failing.
// A connection serves one goroutine at a time, as database/sql guarantees.
//
// Values round-trip exactly: int64 over its whole range, float64 (including
// -0 where the column does not coerce it), TEXT as the exact UTF-8 bytes,
// BLOB as bytes, NULL. A bool is written as INTEGER 0 or 1. A time.Time is
// written as TEXT in UTC as "2006-01-02 15:04:05.999999999-07:00" (the
// format of modernc.org/sqlite's _time_format=sqlite), and read back as that
// string: sql.js does not report declared column types, so the driver cannot
// know a column holds times. Store Matrix timestamps as int64 milliseconds.
// An empty or nil []byte is a zero-length BLOB, not NULL.
//
// Transactions are real BEGIN/COMMIT/ROLLBACK. Commit returns once the data
// is durable (see js/storage). A write outside a transaction (Exec, or a
// Query that writes) is committed and made durable before the call returns.
//
// Context cancellation is checked before each crossing into JS; a statement
// already handed to JS runs to its end (it is synchronous there). Commit
// waits for durability whatever the context, since the transaction is then
// already committed in memory.
package sqljs

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"sync"

	"hearth/go/bridge"
)

// Connector opens connections to hearthStorage. Use it with sql.OpenDB.
type Connector struct {
	storage *bridge.Storage

	mu sync.Mutex
	// open is true while a connection exists; guarded by mu.
	open bool
}

var _ driver.Connector = (*Connector)(nil)

// NewConnector finds hearthStorage; it fails if JS did not set it.
func NewConnector() (*Connector, error) {
	s, err := bridge.OpenStorage()
	if err != nil {
		return nil, fmt.Errorf("open sqljs connector: %w", err)
	}
	return &Connector{storage: s}, nil
}

// Connect returns the one connection; ErrOneConnection while it is open.
func (c *Connector) Connect(ctx context.Context) (driver.Conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.open {
		return nil, ErrOneConnection
	}
	c.open = true
	return &conn{connector: c, storage: c.storage}, nil
}

// Driver returns a Driver whose Open ignores its name and connects to hearthStorage.
func (c *Connector) Driver() driver.Driver { return Driver{} }

// Stats reports the JS side's counters (open statements, commits).
func (c *Connector) Stats() bridge.StorageStats { return c.storage.Stats() }

func (c *Connector) closed() {
	c.mu.Lock()
	c.open = false
	c.mu.Unlock()
}

// Driver exists because database/sql asks a Connector for one; prefer
// sql.OpenDB(NewConnector()).
type Driver struct{}

// Open connects to hearthStorage; name is ignored (JS decides where data lives).
func (Driver) Open(string) (driver.Conn, error) {
	c, err := NewConnector()
	if err != nil {
		return nil, err
	}
	return c.Connect(context.Background())
}

// wrapError adds the sentinel for a JS error name, so errors.Is works.
func wrapError(op string, err error) error {
	if err == nil {
		return nil
	}
	var jsErr *bridge.Error
	if errors.As(err, &jsErr) {
		if s := sentinelFor(jsErr.Name); s != nil {
			return fmt.Errorf("%s: %w: %w", op, s, err)
		}
	}
	return fmt.Errorf("%s: %w", op, err)
}
