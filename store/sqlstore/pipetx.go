package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"
	"time"
)

// pipeTx is a MySQL transaction on one connection whose statements reach
// the server in as few requests as their results allow, through the
// driver's multiStatements. A statement run with ExecContext, whose
// result no operation reads inside a transaction, is held; so is a plain
// read that no later statement of the transaction waits for (holdRead),
// whose rows are read once the request that carries it has run. Held
// statements go ahead of the next statement whose rows the transaction
// needs at once (query), or ahead of the COMMIT, in the same request. The
// server runs a request's statements in order and stops at the first that
// fails, whose error the request returns; every statement sees the writes
// of those before it, as when each is a request of its own. An email
// login's Verify is two requests instead of fourteen: the reads and the
// counters' locks in one, the writes and the COMMIT in the other.
//
// The driver interpolates the arguments of a request's statements into
// its text (interpolateParams), as it does for a statement sent alone: a
// server cannot prepare several statements as one.
type pipeTx struct {
	conn *sql.Conn
	held strings.Builder // statements not yet sent, each followed by "; "
	args []any
	// reads holds the readers of the held statements that return rows,
	// in the order of their result sets.
	reads []func(*sql.Rows) error
	// follow, when set, is a read that goes right after the next
	// statement sent with query, in its request (see follow).
	follow *heldRead
	// op is the index of the batch's operation now running (the number
	// of operations once they all ran); from is that of the first
	// statement held since the last request, when holding.
	op, from int
	holding  bool
}

// heldRead is a statement that returns rows, its arguments, and what
// reads its rows.
type heldRead struct {
	query string
	args  []any
	read  func(*sql.Rows) error
}

var _ querier = (*pipeTx)(nil)

// errHeld is what a held statement's result reports: its effect is known
// once the request that carries it has run, and no caller may depend on it.
var errHeld = errors.New("sqlstore: a held statement's result is not known before its request runs")

type heldResult struct{}

func (heldResult) LastInsertId() (int64, error) { return 0, errHeld }
func (heldResult) RowsAffected() (int64, error) { return 0, errHeld }

func (p *pipeTx) hold(query string, args []any) {
	if !p.holding {
		p.holding, p.from = true, p.op
	}
	p.held.WriteString(query)
	p.held.WriteString("; ")
	p.args = append(p.args, args...)
}

// holdRead holds query, which returns rows: read gets them once a later
// request has carried it. It is for a read whose rows no later statement
// of the transaction depends on. read reads its own result set only.
func (p *pipeTx) holdRead(query string, args []any, read func(*sql.Rows) error) {
	p.hold(query, args)
	p.reads = append(p.reads, read)
}

// request returns the text and arguments of a request that runs the held
// statements and then query, and forgets the held ones.
func (p *pipeTx) request(query string, args []any) (string, []any) {
	p.holding = false
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

// errNotQuery is what QueryContext returns: a pipelined transaction's
// result sets come in an order only send knows, so its rows are read
// through query (the package's function).
var errNotQuery = errors.New("sqlstore: a pipelined transaction reads rows through query, not QueryContext")

// QueryContext refuses: see errNotQuery.
func (p *pipeTx) QueryContext(context.Context, string, ...any) (*sql.Rows, error) {
	return nil, errNotQuery
}

// send sends, in one request, the held statements, then query, then the
// read that follow holds when read is set. It gives each held read its
// result set in turn, then read query's rows, then the follow's read its
// own; it returns the error of any statement of the request. With no
// read it is the request of a statement that returns no rows (COMMIT).
func (p *pipeTx) send(ctx context.Context, query string, args []any, read func(*sql.Rows) error) (err error) {
	if p.holding && p.from < p.op {
		// Which statement of the request failed, the server does not say.
		from := p.from
		defer func() {
			if err != nil {
				err = &heldError{from: from, err: err}
			}
		}()
	}
	text, all := p.request(query, args)
	reads := p.reads
	p.reads = nil
	if read != nil {
		reads = append(reads, read)
		if f := p.follow; f != nil {
			text += "; " + f.query
			all = append(all, f.args...)
			reads = append(reads, f.read)
			p.follow = nil
		}
	}
	if len(reads) == 0 {
		_, err := p.conn.ExecContext(ctx, text, all...)
		return err
	}
	rows, err := p.conn.QueryContext(ctx, text, all...)
	if err != nil {
		return err
	}
	defer rows.Close()
	// The driver skips the result sets of statements that return no rows;
	// an error of a statement after a read ends the sets with it.
	for i, rd := range reads {
		if i > 0 && !rows.NextResultSet() {
			return cmp.Or(rows.Err(), errors.New("sqlstore: a request returned fewer result sets than its reads"))
		}
		if err := rd(rows); err != nil {
			return err
		}
	}
	if rows.NextResultSet() {
		return errors.New("sqlstore: a request returned more result sets than its reads")
	}
	return cmp.Or(rows.Err(), rows.Close())
}

// heldError is the error of a request that carried statements held since
// an earlier operation of the batch, any of which may be the one that
// failed. Its message starts with the statement's, which retryable reads.
type heldError struct {
	from int
	err  error
}

func (e *heldError) Error() string {
	return fmt.Sprintf("%v (in a request with the statements held since operation %d of the batch)", e.err, e.from)
}

func (e *heldError) Unwrap() error { return e.err }

// query runs text, which returns rows, on q and gives them to read; on a
// pipeTx it goes in one request with the statements held before it.
func query(ctx context.Context, q querier, text string, args []any, read func(*sql.Rows) error) error {
	if p, ok := q.(*pipeTx); ok {
		return p.send(ctx, text, args, read)
	}
	rows, err := q.QueryContext(ctx, text, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	if err := read(rows); err != nil {
		return err
	}
	return rows.Err()
}

// one is a read of a statement's one row into dest: sql.ErrNoRows when
// it returned none.
func one(dest ...any) func(*sql.Rows) error {
	return func(rows *sql.Rows) error {
		if !rows.Next() {
			return cmp.Or(rows.Err(), sql.ErrNoRows)
		}
		return rows.Scan(dest...)
	}
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
			err = p.send(ctx, "COMMIT", nil, nil)
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
