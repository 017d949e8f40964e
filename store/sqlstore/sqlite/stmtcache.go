package sqlite

import (
	"context"
	"database/sql/driver"
	"errors"

	msqlite "modernc.org/sqlite"
)

// maxCached bounds the statements a connection keeps prepared. The store
// runs a few dozen distinct statements; a host's own queries on the same
// pool beyond the bound run as before, prepared for each call.
const maxCached = 256

// connector opens connections of modernc.org/sqlite that keep their
// statements prepared (cachedConn).
type connector struct {
	dsn string
	drv *msqlite.Driver
}

func (c connector) Connect(context.Context) (driver.Conn, error) {
	cn, err := c.drv.Open(c.dsn)
	if err != nil {
		return nil, err
	}
	inner, ok := cn.(sqliteConn)
	if !ok {
		cn.Close()
		return nil, errors.New("modernc.org/sqlite's connection lacks a method the store uses")
	}
	return &cachedConn{sqliteConn: inner, stmts: map[string]*cachedStmt{}}, nil
}

func (c connector) Driver() driver.Driver { return c.drv }

// sqliteConn is what database/sql uses of a modernc.org/sqlite
// connection.
type sqliteConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
}

// cachedConn is a connection that keeps each statement it runs with
// arguments prepared, by its text, for the connection's life. SQLite
// compiles a statement each time it is prepared, which for the store's
// short statements costs as much as running them (about 30 µs of a 50 µs
// write). A statement with no arguments (DDL, a host's literal query) is
// prepared for each call, as are those beyond maxCached. database/sql uses
// a connection from one goroutine at a time; a statement whose rows are
// still open when its text runs again is prepared anew for that call.
type cachedConn struct {
	sqliteConn
	stmts map[string]*cachedStmt
}

type cachedStmt struct {
	st   driver.Stmt
	busy bool // its rows are open
}

// stmt returns the prepared statement of query, preparing and keeping it
// when it is new, or nil when the call should prepare its own.
func (c *cachedConn) stmt(ctx context.Context, query string) (*cachedStmt, error) {
	if cs, ok := c.stmts[query]; ok {
		if cs.busy {
			return nil, nil
		}
		return cs, nil
	}
	if len(c.stmts) >= maxCached {
		return nil, nil
	}
	st, err := c.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	cs := &cachedStmt{st: st}
	c.stmts[query] = cs
	return cs, nil
}

// drop closes and forgets the statement of query after it failed, so that
// the next call prepares it afresh.
func (c *cachedConn) drop(query string) {
	if cs, ok := c.stmts[query]; ok {
		delete(c.stmts, query)
		cs.st.Close()
	}
}

func (c *cachedConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	if len(args) == 0 {
		return c.sqliteConn.ExecContext(ctx, query, args)
	}
	cs, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	if cs == nil {
		return c.sqliteConn.ExecContext(ctx, query, args)
	}
	res, err := cs.st.(driver.StmtExecContext).ExecContext(ctx, args)
	if err != nil {
		c.drop(query)
	}
	return res, err
}

func (c *cachedConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	if len(args) == 0 {
		return c.sqliteConn.QueryContext(ctx, query, args)
	}
	cs, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	if cs == nil {
		return c.sqliteConn.QueryContext(ctx, query, args)
	}
	rows, err := cs.st.(driver.StmtQueryContext).QueryContext(ctx, args)
	if err != nil {
		c.drop(query)
		return nil, err
	}
	cs.busy = true
	return &cachedRows{Rows: rows, cs: cs}, nil
}

// Close closes the kept statements, then the connection.
func (c *cachedConn) Close() error {
	for q, cs := range c.stmts {
		cs.st.Close()
		delete(c.stmts, q)
	}
	return c.sqliteConn.Close()
}

// cachedRows are the rows of a kept statement, which they free for its
// next call when closed.
type cachedRows struct {
	driver.Rows
	cs *cachedStmt
}

func (r *cachedRows) Close() error {
	err := r.Rows.Close()
	r.cs.busy = false
	return err
}
