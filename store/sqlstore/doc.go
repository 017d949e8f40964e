// Package sqlstore is a [store.Store] and [store.Sweeper] on database/sql,
// for SQLite, PostgreSQL and MySQL/MariaDB. Every app instance that opens
// the same database shares codes, limits, replay marks and trusted devices.
//
// # Drivers
//
// The package imports no driver: the host imports the one its database
// needs and opens a *sql.DB as usual.
//
//	Dialect    import                              sql.Open driver  DSN example
//	SQLite     modernc.org/sqlite (pure Go)        "sqlite"         use package sqlstore/sqlite
//	Postgres   github.com/jackc/pgx/v5/stdlib      "pgx"            postgres://user@host/db
//	MySQL      github.com/go-sql-driver/mysql      "mysql"          user:pass@tcp(host:3306)/db
//
// For SQLite, package [github.com/twofactorkit/twofactor/store/sqlstore/sqlite]
// opens a file with the settings the store relies on (write-ahead logging,
// a busy timeout, BEGIN IMMEDIATE transactions, one connection); importing
// it brings in modernc.org/sqlite, and nothing else does. PostgreSQL and
// MySQL need no special DSN options: times are stored as integers, so
// MySQL's parseTime does not matter. MySQL 8 and MariaDB 10.5 or later work.
//
// # Walkthrough
//
// Open the database, build the store, and migrate once at start-up:
//
//	import (
//		_ "github.com/jackc/pgx/v5/stdlib"
//		"github.com/twofactorkit/twofactor/store/sqlstore"
//	)
//
//	db, err := sql.Open("pgx", os.Getenv("DATABASE_URL"))
//	if err != nil { ... }
//	st, err := sqlstore.New(db, sqlstore.Options{Dialect: sqlstore.Postgres})
//	if err != nil { ... }
//	if err := st.Migrate(ctx); err != nil { ... }
//	svc, err := twofactor.New(twofactor.Config{Store: st, ...})
//
// [New] only validates its options; it never touches the database. [Store.Migrate]
// is explicit: call it at start-up, from every instance if that is simpler
// (instances take a database lock, so each migration runs once and the
// others wait and find nothing to do), or run `twofactor migrate --db DSN`
// from a deploy step. The tables are named with [Options.TablePrefix]
// (default "twofactor_"); the applied versions are in
// <prefix>schema_migrations.
//
// # Sweeping
//
// Expired rows are ignored by every read, so the store is correct without
// cleaning, but they stay on disk until [Store.Sweep] deletes them. Run it
// every few minutes from one goroutine per instance (several instances
// sweeping at once is harmless):
//
//	go func() {
//		t := time.NewTicker(5 * time.Minute)
//		defer t.Stop()
//		for {
//			select {
//			case <-ctx.Done():
//				return
//			case <-t.C:
//				if n, err := st.Sweep(ctx); err != nil {
//					slog.Warn("twofactor sweep failed", "err", err)
//				} else if n > 0 {
//					slog.Debug("twofactor sweep", "removed", n)
//				}
//			}
//		}
//	}()
//
// Each table is swept with one DELETE on its indexed expiry column.
// Codes without an expiry (backup codes) and enrollments are never swept.
//
// # Atomicity
//
// Everything that must be atomic across instances is done by the database,
// never as a read followed by a write in Go:
//
//   - TakeState is DELETE ... RETURNING (PostgreSQL, SQLite), or a
//     SELECT ... FOR UPDATE and a DELETE in one transaction (MySQL).
//   - ConsumeCode locks the row in a transaction (SELECT ... FOR UPDATE; on
//     SQLite a write that takes the database's write lock), compares the
//     hash in constant time in Go, then deletes the code or counts the
//     attempt before committing. A failed commit is an error.
//   - Incr is one INSERT ... ON CONFLICT DO UPDATE (ON DUPLICATE KEY UPDATE
//     on MySQL) that also restarts an ended window.
//   - IncrBatch ([store.BatchCounters]) increments several counters with
//     one multi-row upsert, rows in sorted key order so that concurrent
//     batches cannot deadlock each other.
//   - MarkUsed and Advance are conditional upserts that replace a mark only
//     when it expired or (Advance) is lower. PostgreSQL and SQLite report the
//     winner through the affected-row count; on MySQL, whose count depends
//     on connection flags, the winner writes a random token and reads it
//     back in the same transaction.
//
// Statements that the database rolls back because of contention (SQLite
// SQLITE_BUSY, PostgreSQL serialization failures and deadlocks, MySQL
// deadlocks) are retried a bounded number of times.
//
// Expiry is decided with [Options.Now], passed to every statement as a
// parameter; the database's clock is never used, so app servers and the
// database need not agree on the time. Times are stored as microseconds
// since the Unix epoch (BIGINT), NULL meaning "never" or "unset".
//
// # Security notes
//
//   - The library stores only keyed hashes of codes and sealed secrets;
//     this package stores what it is given and logs nothing.
//   - Every failure (a closed pool, a canceled context, a missing table, a
//     failed commit) is returned as an error wrapping the cause, never as a
//     "not found" or a success, so flows built on the store fail closed.
//   - Keys are compared byte for byte in every database (PostgreSQL columns
//     use the "C" collation, MySQL keys are VARBINARY), so two keys that a
//     collation would call equal never share a record.
//   - Keys and ids are limited by the database: at most 255 bytes on MySQL
//     (VARBINARY(255)), and valid UTF-8 without NUL bytes on PostgreSQL
//     (TEXT). A key outside those limits makes the operation fail with an
//     error, which the library treats as "deny"; the library's own keys
//     (hex and base64url ids, host user ids up to 255 bytes) fit.
//   - The table prefix is validated ([CheckTablePrefix]) because it is part
//     of the SQL text; everything else is passed as a parameter.
//   - The SQLite helper sets synchronous=NORMAL: a process crash loses
//     nothing, but a power cut may roll back the last commits. See
//     [github.com/twofactorkit/twofactor/store/sqlstore/sqlite.DSN].
package sqlstore
