package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"strings"

	msqlite "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/store/sqlstore"
)

// BusyTimeoutMillis is how long a connection waits for SQLite's write lock
// before giving up with SQLITE_BUSY.
const BusyTimeoutMillis = 10000

// DSN returns the modernc.org/sqlite data source name for the file at path
// with the settings sqlstore relies on: write-ahead logging (readers never
// block the writer), a busy timeout, and transactions that take the write
// lock when they begin (BEGIN IMMEDIATE).
//
// It also sets synchronous=NORMAL, the usual setting with write-ahead
// logging: a commit survives a crash of the process, but the last commits
// before a power loss or an operating-system crash may be rolled back
// (the database itself stays consistent). With FULL every commit waits for
// the disk, which on common disks limits a store to a few hundred writes a
// second. If a code consumed just before a power cut must stay consumed,
// open the database with your own DSN and _pragma=synchronous(FULL).
func DSN(path string) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", BusyTimeoutMillis))
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Set("_txlock", "immediate")
	return "file:" + path + "?" + q.Encode()
}

// Open opens (creating it if needed) the SQLite database file at path with
// DSN(path). The pool is limited to one connection: SQLite allows one
// writer at a time, and a single connection queues writers in Go instead of
// failing them with SQLITE_BUSY, which is also the fastest choice for the
// short statements of a store. The connection keeps each statement it runs
// with arguments prepared (up to 256 of them), so that SQLite compiles
// the store's statements once rather than at every call, which roughly
// halves their cost. The caller closes the returned DB.
func Open(path string) (*sql.DB, error) {
	if path == "" || strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("sqlite: invalid database path %q (empty, or contains ? or #)", path)
	}
	// The driver registered as "sqlite", with whatever functions or hooks
	// the process registered on it; sql.Open connects to nothing.
	probe, err := sql.Open("sqlite", "")
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	drv, ok := probe.Driver().(*msqlite.Driver)
	probe.Close()
	if !ok {
		return nil, fmt.Errorf("sqlite: the driver registered as sqlite is %T, not modernc.org/sqlite's", probe.Driver())
	}
	db := sql.OpenDB(connector{dsn: DSN(path), drv: drv})
	db.SetMaxOpenConns(1)
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: opening %s: %w", path, err)
	}
	return db, nil
}

// OpenStore opens (creating it if needed) the SQLite database file at path
// and returns a store on it with its tables migrated: the one call an app
// with an embedded store needs. The database stays open for the life of
// the process; to close it, or to set sqlstore.Options, use Open,
// sqlstore.New and Store.Migrate instead.
func OpenStore(ctx context.Context, path string) (*sqlstore.Store, error) {
	db, err := Open(path)
	if err != nil {
		return nil, err
	}
	st, err := sqlstore.New(db, sqlstore.Options{Dialect: sqlstore.SQLite})
	if err == nil {
		err = st.Migrate(ctx)
	}
	if err != nil {
		db.Close()
		return nil, err
	}
	return st, nil
}

// File is the path of an SQLite database file as a twofactor.StoreOpener:
// given to twofactor.Config.OpenStore, the Service opens it with OpenStore
// as it is built, so that opening the store shares the set-up's one error
// check:
//
//	svc, err := twofactor.New(twofactor.Config{OpenStore: sqlite.File("twofactor.db"), ...})
//
// Service.Shutdown stops the store's sweeping; the database stays open for
// the life of the process, as with OpenStore.
type File string

var _ twofactor.StoreOpener = File("")

// OpenStore opens the file with OpenStore.
func (f File) OpenStore(ctx context.Context) (twofactor.Store, error) {
	return OpenStore(ctx, string(f))
}
