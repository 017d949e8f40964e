package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"strings"
	"time"
)

// pipeTx is a MySQL transaction on one connection whose statements reach
// the server in as few requests as their results allow, through the
// driver's multiStatements: a statement run with ExecContext, whose result
// no operation reads inside a transaction, is held, and goes ahead of the
// next statement that returns rows, or ahead of the COMMIT, in the same
// request. The server runs a request's statements in order and stops at
// the first that fails, whose error the request returns; every statement
// sees the writes of those before it, as when each is a request of its
// own. An email login's Verify is four requests instead of fourteen.
//
// The driver interpolates the arguments of a request's statements into
// its text (interpolateParams), as it does for a statement sent alone: a
// server cannot prepare several statements as one.
type pipeTx struct {
	conn *sql.Conn
	held strings.Builder // statements not yet sent, each followed by "; "
	args []any
}

var _ querier = (*pipeTx)(nil)

// errHeld is what a held statement's result reports: its effect is known
// once the request that carries it has run, and no caller may depend on it.
var errHeld = errors.New("sqlstore: a held statement's result is not known before its request runs")

type heldResult struct{}

func (heldResult) LastInsertId() (int64, error) { return 0, errHeld }
func (heldResult) RowsAffected() (int64, error) { return 0, errHeld }

func (p *pipeTx) hold(query string, args []any) {
	p.held.WriteString(query)
	p.held.WriteString("; ")
	p.args = append(p.args, args...)
}

// request returns the text and arguments of a request that runs the held
// statements and then query, and forgets the held ones.
func (p *pipeTx) request(query string, args []any) (string, []any) {
	if p.held.Len() == 0 {
		return query, args
	}
	p.held.WriteString(query)
	text, all := p.held.String(), append(p.args, args...)
	p.held.Reset()
	p.args = nil
	return text, all
}

// ExecContext holds the statement for the next request.
func (p *pipeTx) ExecContext(_ context.Context, query string, args ...any) (sql.Result, error) {
	p.hold(query, args)
	return heldResult{}, nil
}

// QueryContext sends the held statements and query in one request; the
// rows are query's (the driver skips the result sets of statements that
// return none).
func (p *pipeTx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	text, all := p.request(query, args)
	return p.conn.QueryContext(ctx, text, all...)
}

// QueryRowContext is QueryContext for one row.
func (p *pipeTx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	text, all := p.request(query, args)
	return p.conn.QueryRowContext(ctx, text, all...)
}

// pipeTxWith runs fn in a pipelined transaction on a connection of its
// own, with s.do's retries: the START TRANSACTION goes with fn's first
// request, and its held statements with the COMMIT. When fn or a request
// fails, the transaction is rolled back, and a connection that cannot
// roll back is closed rather than returned to the pool.
func (s *Store) pipeTxWith(ctx context.Context, op string, readCommitted bool, fn func(querier) error) error {
	return s.do(ctx, op, func() error {
		conn, err := s.db.Conn(ctx)
		if err != nil {
			return err
		}
		defer conn.Close()
		p := &pipeTx{conn: conn}
		if readCommitted {
			p.hold("SET TRANSACTION ISOLATION LEVEL READ COMMITTED", nil)
		}
		p.hold("START TRANSACTION", nil)
		err = fn(p)
		if err == nil {
			text, args := p.request("COMMIT", nil)
			_, err = conn.ExecContext(ctx, text, args...)
		}
		if err != nil {
			p.abort(ctx)
		}
		return err
	})
}

// abort rolls the transaction back, or closes the connection when it
// cannot: a transaction left open must not go back to the pool.
func (p *pipeTx) abort(ctx context.Context) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if _, err := p.conn.ExecContext(rctx, "ROLLBACK"); err != nil {
		_ = p.conn.Raw(func(any) error { return driver.ErrBadConn })
	}
}

// Whether the pool takes several statements with arguments in one request
// (go-sql-driver/mysql with multiStatements=true and interpolateParams=true),
// as s.multi records once a probe has told.
const (
	multiUnknown int32 = iota
	multiYes
	multiNo
)

// pipelines reports whether s runs its MySQL transactions as pipeTx. The
// first call asks the server to run two statements with arguments in one
// request: a server that refuses it (multiStatements off: a syntax error;
// interpolateParams off: a statement it cannot prepare) answers for good;
// a failure that is not the server's answer (a lost connection) leaves the
// question open, and this call runs without pipelining.
func (s *Store) pipelines(ctx context.Context) bool {
	switch s.multi.Load() {
	case multiYes:
		return true
	case multiNo:
		return false
	}
	var one int
	err := s.db.QueryRowContext(ctx, "SELECT ?; SELECT ?", 1, 2).Scan(&one)
	switch {
	case err == nil && one == 1:
		s.multi.Store(multiYes)
		return true
	case err == nil || serverRefused(err):
		s.multi.Store(multiNo)
	}
	return false
}

// serverRefused reports whether err is an error the MySQL server returned
// (go-sql-driver/mysql writes them "Error <number> (<state>): ..."), as
// opposed to one of the connection or the context.
func serverRefused(err error) bool {
	msg := err.Error()
	if !strings.HasPrefix(msg, "Error ") {
		return false
	}
	rest := msg[len("Error "):]
	return len(rest) > 0 && rest[0] >= '0' && rest[0] <= '9'
}

// returning reports whether the server is known to be MariaDB, whose
// INSERT ... ON DUPLICATE KEY UPDATE takes a RETURNING clause that gives
// the rows as the statement left them (MariaDB 10.5 and later, which the
// store requires), where MySQL needs a second statement to read them
// back. It only reads what probeServer found, as it is asked inside
// transactions, which must not wait for a second connection of the pool.
func (s *Store) returning() bool { return s.mariadb.Load() == multiYes }

// probeServer asks a MySQL-dialect server, once, whether it is MariaDB
// (see returning); it runs before the operations that would use the
// answer start their transactions. An error leaves the question open, and
// those operations read back as on MySQL.
func (s *Store) probeServer(ctx context.Context) {
	if s.dialect != MySQL || s.mariadb.Load() != multiUnknown {
		return
	}
	var version string
	if err := s.db.QueryRowContext(ctx, "SELECT VERSION()").Scan(&version); err != nil {
		return
	}
	if strings.Contains(version, "MariaDB") {
		s.mariadb.Store(multiYes)
	} else {
		s.mariadb.Store(multiNo)
	}
}
