package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	"github.com/twofactorkit/twofactor/internal/errs"
	"github.com/twofactorkit/twofactor/store"
)

// Dialect names the SQL database a Store talks to.
type Dialect string

// The supported dialects. Each needs its driver imported by the host; see
// the package documentation.
const (
	SQLite   Dialect = "sqlite"   // modernc.org/sqlite, driver name "sqlite"
	Postgres Dialect = "postgres" // github.com/jackc/pgx/v5/stdlib, driver name "pgx"
	MySQL    Dialect = "mysql"    // github.com/go-sql-driver/mysql, MySQL 8 or MariaDB 10.5+
)

// DefaultTablePrefix is the table-name prefix used when Options.TablePrefix
// is empty.
const DefaultTablePrefix = "twofactor_"

// Options configure a Store. The zero value is valid.
type Options struct {
	// Dialect of the database. Empty means detect it from the type of the
	// driver behind db (modernc sqlite, pgx stdlib, go-sql-driver mysql);
	// set it when the database is reached through another driver or a
	// wrapper.
	Dialect Dialect
	// TablePrefix starts the name of every table and index, so several
	// stores (or test runs) can share one database. It must match
	// [a-z_][a-z0-9_]{0,31}. Empty means DefaultTablePrefix.
	TablePrefix string
	// Now is the clock that decides expiry. Nil means time.Now. The
	// database's own clock is never used.
	Now func() time.Time
	// SweepInterval is how often the store deletes expired rows by itself:
	// at most once per interval, in the background, started by an
	// operation of the store (see "Sweeping" in the package doc). It is
	// measured with the real time, not Now. Zero means
	// DefaultSweepInterval (5 minutes); a negative value turns automatic
	// sweeping off.
	SweepInterval time.Duration
	// SweepLimit bounds the rows one automatic sweep deletes from each
	// table; the rest wait for the next sweep. Zero means DefaultSweepLimit
	// (10,000); it must not be negative.
	SweepLimit int
	// OnSweep, when set, is called after each automatic sweep, from the
	// sweep's goroutine, with the rows it removed and its error (nil on
	// success). Use it to log failures. Close waits for it to return.
	OnSweep func(removed int, err error)
}

// Store is a store.Store on database/sql, and also a store.Sweeper,
// store.BatchCounters, store.BoundedCounters, store.StateResetter,
// store.Batcher, store.DeviceToucher and store.EnrollmentToucher. It is
// safe for concurrent use, and any number of Stores (in one process or
// many) may share one database and table prefix: every operation that must
// be atomic is done by the database.
type Store struct {
	db      *sql.DB
	dialect Dialect
	prefix  string
	now     func() time.Time
	q       queries
	auto    *autoSweep // nil: automatic sweeping is off
	// statementBatches makes RunBatch on PostgreSQL run a batch's
	// statements one by one, as on the other dialects, instead of its one
	// function call (for tests that compare the two).
	statementBatches bool
	// multi records whether a MySQL pool takes several statements in one
	// request (see pipelines).
	multi atomic.Int32
	// mariadb records whether a MySQL-dialect server is MariaDB, whose
	// upserts return rows (see returning).
	mariadb atomic.Int32
}

var (
	_ store.Store             = (*Store)(nil)
	_ store.Sweeper           = (*Store)(nil)
	_ store.DeviceToucher     = (*Store)(nil)
	_ store.EnrollmentToucher = (*Store)(nil)
	_ store.BatchCounters     = (*Store)(nil)
	_ store.Batcher           = (*Store)(nil)
)

var prefixRE = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,31}$`)

// New returns a Store on db. It validates opt and touches no table: call
// Migrate once at start-up (from any number of instances) before the first
// operation. Errors wrap twofactor.ErrConfig. The caller keeps ownership of
// db and closes it, after calling Close on the Store.
func New(db *sql.DB, opt Options) (*Store, error) {
	if db == nil {
		return nil, configErr("db is nil: open it with sql.Open and the driver of your database")
	}
	d := opt.Dialect
	if d == "" {
		d = detect(db)
		if d == "" {
			return nil, configErr("cannot tell the dialect of driver %T: set Options.Dialect to sqlstore.SQLite, sqlstore.Postgres or sqlstore.MySQL", db.Driver())
		}
	}
	switch d {
	case SQLite, Postgres, MySQL:
	default:
		return nil, configErr("unknown Options.Dialect %q: use sqlstore.SQLite, sqlstore.Postgres or sqlstore.MySQL", d)
	}
	p := opt.TablePrefix
	if p == "" {
		p = DefaultTablePrefix
	}
	if err := CheckTablePrefix(p); err != nil {
		return nil, err
	}
	now := opt.Now
	if now == nil {
		now = time.Now
	}
	if opt.SweepLimit < 0 {
		return nil, configErr("Options.SweepLimit is negative (%d); use zero for the default of %d, or a negative SweepInterval to turn automatic sweeping off", opt.SweepLimit, DefaultSweepLimit)
	}
	s := &Store{db: db, dialect: d, prefix: p, now: now, q: buildQueries(d, p)}
	if opt.SweepInterval >= 0 {
		s.auto = newAutoSweep(cmp.Or(opt.SweepInterval, DefaultSweepInterval), cmp.Or(opt.SweepLimit, DefaultSweepLimit), opt.OnSweep)
	}
	return s, nil
}

// CheckTablePrefix returns an error wrapping twofactor.ErrConfig unless p
// is a valid Options.TablePrefix: 1 to 32 characters from [a-z0-9_], not
// starting with a digit.
func CheckTablePrefix(p string) error {
	if !prefixRE.MatchString(p) {
		return configErr("Options.TablePrefix %q: use 1 to 32 characters from [a-z0-9_], not starting with a digit", p)
	}
	return nil
}

// ParseDialect returns the Dialect named s ("sqlite", "postgres" or
// "postgresql", "mysql" or "mariadb").
func ParseDialect(s string) (Dialect, error) {
	switch strings.ToLower(s) {
	case "sqlite", "sqlite3":
		return SQLite, nil
	case "postgres", "postgresql", "pgx":
		return Postgres, nil
	case "mysql", "mariadb":
		return MySQL, nil
	}
	return "", fmt.Errorf("sqlstore: unknown dialect %q (want sqlite, postgres or mysql)", s)
}

// detect guesses the dialect from the driver's type name, so no driver has
// to be imported here.
func detect(db *sql.DB) Dialect {
	t := fmt.Sprintf("%T", db.Driver())
	switch {
	case strings.Contains(t, "sqlite"):
		return SQLite
	case strings.HasPrefix(t, "*stdlib.") || strings.Contains(t, "pq."):
		return Postgres
	case strings.Contains(t, "mysql"):
		return MySQL
	}
	return ""
}

func configErr(format string, args ...any) error { return errs.Config("sqlstore", format, args...) }

// Dialect returns the store's dialect.
func (s *Store) Dialect() Dialect { return s.dialect }

// TablePrefix returns the prefix of the store's tables.
func (s *Store) TablePrefix() string { return s.prefix }

// DB returns the pool the store uses.
func (s *Store) DB() *sql.DB { return s.db }

// Times are stored as microseconds since the Unix epoch; the zero time is
// stored as NULL.
func dbTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMicro()
}

func goTime(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.UnixMicro(n.Int64).UTC()
}

// live reports whether expiry n (NULL = never) is after now.
func live(n sql.NullInt64, now int64) bool { return !n.Valid || n.Int64 > now }

// blob keeps NOT NULL byte columns happy with nil slices.
func blob(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("sqlstore: %s: %w", op, err)
}

// retryable reports whether err means the statement or transaction was
// rolled back by the database because of contention and may be run again:
// SQLite busy/locked, PostgreSQL serialization failure or deadlock, MySQL
// deadlock.
func retryable(err error) bool {
	if err == nil {
		return false
	}
	var coder interface{ Code() int }
	if errors.As(err, &coder) {
		switch coder.Code() & 0xff {
		case 5, 6: // SQLITE_BUSY, SQLITE_LOCKED
			return true
		}
	}
	var stater interface{ SQLState() string }
	if errors.As(err, &stater) {
		switch stater.SQLState() {
		case "40001", "40P01":
			return true
		}
	}
	msg := err.Error()
	return strings.HasPrefix(msg, "Error 1213") || strings.Contains(msg, "SQLITE_BUSY") || strings.Contains(msg, "database is locked")
}

// maxTries bounds the retries of an operation that keeps hitting contention.
const maxTries = 50

// do runs an operation with retry, then starts an automatic sweep if one
// is due: after the operation, so that its own statements never wait for
// the sweep.
func (s *Store) do(ctx context.Context, op string, fn func() error) error {
	err := s.retry(ctx, op, fn)
	s.maybeSweep()
	return err
}

// retry runs fn, again while the database reports contention that rolled
// it back, and wraps the final error.
func (s *Store) retry(ctx context.Context, op string, fn func() error) error {
	var err error
	for try := 0; try < maxTries; try++ {
		if err = ctx.Err(); err != nil {
			break
		}
		err = fn()
		if !retryable(err) {
			break
		}
		d := time.Duration(try+1) * time.Millisecond
		t := time.NewTimer(min(d, 20*time.Millisecond))
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
	}
	return wrap(op, err)
}

// tx runs fn in a transaction with retries; fn's error rolls it back.
func (s *Store) tx(ctx context.Context, op string, fn func(*sql.Tx) error) error {
	return s.txWith(ctx, op, nil, fn)
}

// txWith is tx with the transaction's options: nil for the database's
// defaults.
func (s *Store) txWith(ctx context.Context, op string, opts *sql.TxOptions, fn func(*sql.Tx) error) error {
	return s.do(ctx, op, func() error {
		tx, err := s.db.BeginTx(ctx, opts)
		if err != nil {
			return err
		}
		if err := fn(tx); err != nil {
			_ = tx.Rollback()
			return err
		}
		return tx.Commit()
	})
}

func timeMicro(n int64) time.Time { return time.UnixMicro(n).UTC() }

// querier is what an operation's statements run on: the pool (*sql.DB)
// when the operation runs on its own, the transaction (*sql.Tx) of a
// batch (RunBatch) or of the operation itself, or a MySQL batch's
// pipelined transaction (*pipeTx). Rows are read through query, which
// serves all three.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}
