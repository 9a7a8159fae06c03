//go:build !js

package storage

import (
	"context"
	"database/sql/driver"
	"fmt"
	"strings"
)

// maxCachedStatements bounds each connection's statement cache. Hearth's SQL
// is a few hundred constant strings; queries built with a variable number of
// placeholders add a few more. Past the bound the cache is emptied rather
// than grown.
const maxCachedStatements = 512

// stmtConnector opens connections of the native driver that keep their
// prepared statements.
//
// Why: modernc.org/sqlite prepares every statement anew on each
// QueryContext/ExecContext. Profiling hearth-bench (1,000 sends, 1,000
// /sync answers, 1,000 sends from 8 users) put sqlite3Prepare, the SQL
// parser and planner, at 22 % of all CPU, more than executing the
// statements. Keeping the prepared statement per connection and SQL text
// removes that share; SQLite re-prepares a cached statement by itself when
// the schema changes (sqlite3_prepare_v2).
type stmtConnector struct {
	driver driver.Driver
	dsn    string
}

func (c stmtConnector) Connect(context.Context) (driver.Conn, error) {
	conn, err := c.driver.Open(c.dsn)
	if err != nil {
		return nil, err
	}
	inner, ok := conn.(cacheableConn)
	if !ok {
		conn.Close()
		return nil, fmt.Errorf("open connection: driver %T cannot prepare with a context", conn)
	}
	return &stmtConn{cacheableConn: inner, stmts: map[string]*cachedStmt{}}, nil
}

func (c stmtConnector) Driver() driver.Driver { return c.driver }

// cacheableConn is what stmtConn needs of the driver's connection.
type cacheableConn interface {
	driver.Conn
	driver.ConnPrepareContext
	driver.ConnBeginTx
	driver.QueryerContext
	driver.ExecerContext
}

// stmtConn is a connection whose QueryContext and ExecContext reuse
// prepared statements. database/sql uses a connection from one goroutine at
// a time, so the cache needs no lock.
type stmtConn struct {
	cacheableConn
	stmts map[string]*cachedStmt
}

// cachedStmt is a prepared statement and whether rows read from it are
// still open: SQLite runs a statement once at a time, so a query that
// repeats an open one's SQL (nested reads) runs unprepared instead.
type cachedStmt struct {
	stmt interface {
		driver.Stmt
		driver.StmtQueryContext
		driver.StmtExecContext
	}
	busy bool
}

var (
	_ driver.Connector      = stmtConnector{}
	_ driver.QueryerContext = (*stmtConn)(nil)
	_ driver.ExecerContext  = (*stmtConn)(nil)
	_ driver.Validator      = (*stmtConn)(nil)
)

// IsValid and ResetSession forward to the driver's connection when it has them.
func (c *stmtConn) IsValid() bool {
	v, ok := c.cacheableConn.(driver.Validator)
	return !ok || v.IsValid()
}

func (c *stmtConn) ResetSession(ctx context.Context) error {
	if r, ok := c.cacheableConn.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (c *stmtConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	s, err := c.cached(ctx, query)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return c.cacheableConn.QueryContext(ctx, query, args)
	}
	rows, err := s.stmt.QueryContext(ctx, args)
	if err != nil {
		return nil, err
	}
	s.busy = true
	return &cachedRows{Rows: rows, stmt: s}, nil
}

func (c *stmtConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	s, err := c.cached(ctx, query)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return c.cacheableConn.ExecContext(ctx, query, args)
	}
	return s.stmt.ExecContext(ctx, args)
}

// cached returns the prepared statement for query, preparing it if needed;
// nil (and no error) when query must run unprepared: a script of several
// statements (migrations), or a statement whose rows are still being read.
func (c *stmtConn) cached(ctx context.Context, query string) (*cachedStmt, error) {
	if s, ok := c.stmts[query]; ok {
		if s.busy {
			return nil, nil
		}
		return s, nil
	}
	if strings.Contains(strings.TrimRight(query, " \t\n;"), ";") {
		return nil, nil
	}
	st, err := c.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	s := &cachedStmt{}
	var ok bool
	if s.stmt, ok = st.(interface {
		driver.Stmt
		driver.StmtQueryContext
		driver.StmtExecContext
	}); !ok {
		st.Close()
		return nil, nil
	}
	if len(c.stmts) >= maxCachedStatements {
		c.evictIdle()
	}
	c.stmts[query] = s
	return s, nil
}

// evictIdle closes every cached statement not being read.
func (c *stmtConn) evictIdle() {
	for q, s := range c.stmts {
		if !s.busy {
			s.stmt.Close()
			delete(c.stmts, q)
		}
	}
}

// Close closes the cached statements, then the connection.
func (c *stmtConn) Close() error {
	for _, s := range c.stmts {
		s.stmt.Close()
	}
	c.stmts = nil
	return c.cacheableConn.Close()
}

// cachedRows frees its statement for the next query when closed.
type cachedRows struct {
	driver.Rows
	stmt *cachedStmt
}

func (r *cachedRows) Close() error {
	r.stmt.busy = false
	return r.Rows.Close()
}
