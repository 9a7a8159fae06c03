//go:build js

package sqljs

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"time"

	"hearth/go/bridge"
)

// TimeFormat is how a time.Time parameter is written (as TEXT, in UTC).
const TimeFormat = "2006-01-02 15:04:05.999999999-07:00"

// maxStatementHandles bounds a connection's statement handles (handleFor).
// Hearth's SQL is a few hundred constant strings; queries built with a
// variable number of placeholders add some more. Past the bound the handles
// are freed rather than grown: each keeps its statement compiled in JS.
const maxStatementHandles = 256

// conn is the one connection to hearthStorage. database/sql uses it from
// one goroutine at a time; nothing here is safe for concurrent use.
type conn struct {
	connector *Connector
	storage   *bridge.Storage
	// handles are the statements this connection ran, by SQL text.
	handles map[string]bridge.StmtHandle
	// inTx: a transaction from BeginTx is open.
	inTx bool
	// closed: Close was called; every later call fails with driver.ErrBadConn.
	closed bool
}

var (
	_ driver.Conn               = (*conn)(nil)
	_ driver.ConnBeginTx        = (*conn)(nil)
	_ driver.ConnPrepareContext = (*conn)(nil)
	_ driver.ExecerContext      = (*conn)(nil)
	_ driver.QueryerContext     = (*conn)(nil)
	_ driver.Validator          = (*conn)(nil)
)

func (c *conn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

func (c *conn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	if err := c.check(ctx); err != nil {
		return nil, err
	}
	h, err := c.storage.Prepare(query)
	if err != nil {
		return nil, wrapError("prepare statement", err)
	}
	return &stmt{conn: c, handle: h}, nil
}

// Close ends the connection, rolling back an open transaction.
func (c *conn) Close() error {
	if c.closed {
		return nil
	}
	c.closed = true
	c.freeHandles()
	var err error
	if c.inTx {
		c.inTx = false
		err = wrapError("roll back on close", c.storage.Rollback())
	}
	c.connector.closed()
	return err
}

// IsValid lets database/sql drop a closed connection instead of reusing it.
func (c *conn) IsValid() bool { return !c.closed }

func (c *conn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

// BeginTx opens a transaction. SQLite transactions are serializable, so only
// the default and serializable isolation levels are accepted. ReadOnly is
// accepted and not enforced.
func (c *conn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if err := c.check(ctx); err != nil {
		return nil, err
	}
	switch sql.IsolationLevel(opts.Isolation) {
	case sql.LevelDefault, sql.LevelSerializable:
	default:
		return nil, fmt.Errorf("begin transaction: isolation level %v is not supported", sql.IsolationLevel(opts.Isolation))
	}
	if err := c.storage.Begin(); err != nil {
		return nil, wrapError("begin transaction", err)
	}
	c.inTx = true
	return tx{c}, nil
}

// ExecContext runs a statement. Without arguments the query may be a script
// of several statements (migrations).
func (c *conn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	if err := c.check(ctx); err != nil {
		return nil, err
	}
	var res *bridge.Result
	var err error
	if len(args) == 0 {
		res, err = c.storage.Exec(query)
	} else {
		params, perr := toParams(args)
		if perr != nil {
			return nil, perr
		}
		res, err = c.run(query, params)
	}
	if err := c.finish("exec", res, err); err != nil {
		return nil, err
	}
	return result{res}, nil
}

// QueryContext runs a statement and reads all its rows at once.
func (c *conn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	if err := c.check(ctx); err != nil {
		return nil, err
	}
	params, err := toParams(args)
	if err != nil {
		return nil, err
	}
	res, err := c.run(query, params)
	if err := c.finish("query", res, err); err != nil {
		return nil, err
	}
	return &rows{res: res}, nil
}

// run runs query through its handle (handleFor).
func (c *conn) run(query string, params []bridge.Param) (*bridge.Result, error) {
	h, err := c.handleFor(query)
	if err != nil {
		return nil, err
	}
	return c.storage.Run(h, params)
}

// handleFor returns the statement handle for query, preparing it the first
// time. Every later run of it passes the handle instead of the SQL text: a
// string crossing into JS is decoded there, and the statement was looked up
// by its text, on every one of a send's and a /sync's statements.
func (c *conn) handleFor(query string) (bridge.StmtHandle, error) {
	if h, ok := c.handles[query]; ok {
		return h, nil
	}
	if len(c.handles) >= maxStatementHandles {
		c.freeHandles()
	}
	h, err := c.storage.Prepare(query)
	if err != nil {
		return 0, err
	}
	if c.handles == nil {
		c.handles = map[string]bridge.StmtHandle{}
	}
	c.handles[query] = h
	return h, nil
}

func (c *conn) freeHandles() {
	for query, h := range c.handles {
		c.storage.Finalize(h)
		delete(c.handles, query)
	}
}

func (c *conn) check(ctx context.Context) error {
	if c.closed {
		return driver.ErrBadConn
	}
	return ctx.Err()
}

// finish makes an autocommitted write durable before the caller sees it.
func (c *conn) finish(op string, res *bridge.Result, err error) error {
	if err != nil {
		return wrapError(op, err)
	}
	if res.CommitRequired {
		// Already committed in memory: wait for durability whatever the caller's context.
		if err := c.storage.Commit(context.Background()); err != nil {
			return wrapError(op+": persist", err)
		}
	}
	return nil
}

type tx struct{ c *conn }

// Commit returns once the transaction is durable.
func (t tx) Commit() error {
	if !t.c.inTx {
		return sql.ErrTxDone
	}
	t.c.inTx = false
	return wrapError("commit", t.c.storage.Commit(context.Background()))
}

func (t tx) Rollback() error {
	if !t.c.inTx {
		return sql.ErrTxDone
	}
	t.c.inTx = false
	return wrapError("rollback", t.c.storage.Rollback())
}

// stmt is a statement prepared in JS; Close frees it there.
type stmt struct {
	conn   *conn
	handle bridge.StmtHandle
	closed bool
}

var (
	_ driver.StmtExecContext  = (*stmt)(nil)
	_ driver.StmtQueryContext = (*stmt)(nil)
)

func (s *stmt) Close() error {
	if !s.closed && !s.conn.closed {
		s.conn.storage.Finalize(s.handle)
	}
	s.closed = true
	return nil
}

// NumInput is -1: sql.js does not export sqlite3_bind_parameter_count, and
// SQLite itself reports a wrong count of named arguments.
func (s *stmt) NumInput() int { return -1 }

func (s *stmt) Exec(args []driver.Value) (driver.Result, error) {
	return s.ExecContext(context.Background(), named(args))
}

func (s *stmt) Query(args []driver.Value) (driver.Rows, error) {
	return s.QueryContext(context.Background(), named(args))
}

func (s *stmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	res, err := s.run(ctx, "exec", args)
	if err != nil {
		return nil, err
	}
	return result{res}, nil
}

func (s *stmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	res, err := s.run(ctx, "query", args)
	if err != nil {
		return nil, err
	}
	return &rows{res: res}, nil
}

func (s *stmt) run(ctx context.Context, op string, args []driver.NamedValue) (*bridge.Result, error) {
	if s.closed {
		return nil, errors.New("sqljs: statement is closed")
	}
	if err := s.conn.check(ctx); err != nil {
		return nil, err
	}
	params, err := toParams(args)
	if err != nil {
		return nil, err
	}
	res, err := s.conn.storage.Run(s.handle, params)
	if err := s.conn.finish(op, res, err); err != nil {
		return nil, err
	}
	return res, nil
}

type result struct{ res *bridge.Result }

func (r result) LastInsertId() (int64, error) { return r.res.LastInsertID, nil }
func (r result) RowsAffected() (int64, error) { return r.res.Changes, nil }

// rows are already all in Go: Close has nothing to free in JS.
type rows struct {
	res  *bridge.Result
	next int
}

func (r *rows) Columns() []string { return r.res.Columns }
func (r *rows) Close() error      { r.next = len(r.res.Rows); return nil }

func (r *rows) Next(dest []driver.Value) error {
	if r.next >= len(r.res.Rows) {
		return io.EOF
	}
	for i, v := range r.res.Rows[r.next] {
		dest[i] = v
	}
	r.next++
	return nil
}

func named(args []driver.Value) []driver.NamedValue {
	nv := make([]driver.NamedValue, len(args))
	for i, v := range args {
		nv[i] = driver.NamedValue{Ordinal: i + 1, Value: v}
	}
	return nv
}

// toParams converts database/sql values to the bridge's SQLite values.
// Named arguments are bound by name; positional ones by their ordinal, so
// args must come in ordinal order (database/sql passes them so).
func toParams(args []driver.NamedValue) ([]bridge.Param, error) {
	if len(args) == 0 {
		return nil, nil
	}
	params := make([]bridge.Param, len(args))
	for i, a := range args {
		if a.Name == "" && a.Ordinal != i+1 {
			return nil, fmt.Errorf("argument %d: positional arguments must come in order", a.Ordinal)
		}
		params[i].Name = a.Name
		switch v := a.Value.(type) {
		case nil, int64, float64, string:
			params[i].Value = v
		case []byte:
			if v == nil {
				v = []byte{}
			}
			params[i].Value = v
		case bool:
			var n int64
			if v {
				n = 1
			}
			params[i].Value = n
		case time.Time:
			params[i].Value = v.UTC().Format(TimeFormat)
		default:
			return nil, fmt.Errorf("argument %d: unsupported type %T", a.Ordinal, a.Value)
		}
	}
	return params, nil
}
