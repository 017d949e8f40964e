// Package sqlstore is a [store.Store] and [store.Sweeper] on database/sql,
// for SQLite, PostgreSQL and MySQL/MariaDB. Every app instance that opens
// the same database shares codes, limits, replay marks, trusted devices
// and the states filed under each user. It deletes expired rows by itself
// (see Sweeping). It also implements the optional interfaces of package
// store, [store.BatchCounters], [store.BoundedCounters],
// [store.StateResetter], [store.Batcher], [store.EnrollmentToucher] and
// [store.DeviceToucher], each described under Atomicity.
//
// # Drivers
//
// The package imports no driver: the host imports the one its database
// needs and opens a *sql.DB as usual.
//
//	Dialect    import                              sql.Open driver  DSN example
//	SQLite     modernc.org/sqlite (pure Go)        "sqlite"         use package sqlstore/sqlite
//	Postgres   github.com/jackc/pgx/v5/stdlib      "pgx"            postgres://user@host/db
//	MySQL      github.com/go-sql-driver/mysql      "mysql"          user:pass@tcp(host:3306)/db?interpolateParams=true&multiStatements=true
//
// For SQLite, package [github.com/twofactorkit/twofactor/store/sqlstore/sqlite]
// opens a file with the settings the store relies on (write-ahead logging,
// a busy timeout, BEGIN IMMEDIATE transactions, one connection); importing
// it brings in modernc.org/sqlite, and nothing else does. PostgreSQL
// needs no special DSN options. On MySQL, set interpolateParams=true (as
// [MySQLDSN] does): without it go-sql-driver/mysql prepares a server-side
// statement for every statement with arguments, runs it and closes it,
// two round trips where one does, which costs a login about a third of
// its throughput; with it the driver quotes the arguments itself, which
// it does safely for the utf8mb4 and latin1 connection character sets
// (it refuses the multibyte ones where it could not). With
// multiStatements=true as well (MySQLDSN sets both), a transaction's
// statements go to the server in as few requests as their results allow:
// a write or a plain read waits and goes with the next statement whose
// rows the transaction needs at once, or with the COMMIT, a code's
// locking read goes with the counters' locks it depends on, and a batch
// of plain reads is one request, so an email login makes 5 requests
// instead of 24 and runs about a third faster. The store finds out at its
// first batch whether the pool allows it, and otherwise sends each
// statement on its own. A pool with multiStatements lets one request carry several
// statements, including for queries of your own built from input, where
// it would widen an injection: give the store a pool of its own. Times
// are stored as integers, so parseTime does not matter. MySQL 8 and
// MariaDB 10.5 or later work.
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
//	db.SetMaxOpenConns(20) // see "Connection pool" below
//	db.SetMaxIdleConns(20)
//	st, err := sqlstore.New(db, sqlstore.Options{Dialect: sqlstore.Postgres})
//	if err != nil { ... }
//	if err := st.Migrate(ctx); err != nil { ... }
//	defer st.Close() // stops automatic sweeping; before db.Close
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
// # Connection pool
//
// A login makes about a dozen short queries. database/sql keeps only two
// idle connections by default, so under concurrent sign-ins on PostgreSQL
// or MySQL most queries open a new connection (a TCP handshake, an
// authentication, a server process), and latency grows to seconds at a
// few dozen logins a second. Keep as many connections open as the app
// serves sign-ins at once: SetMaxIdleConns equal to SetMaxOpenConns (20
// serves hundreds of logins a second), with the open connections of every
// instance together below the server's max_connections (100 by default
// on PostgreSQL, 151 on MySQL). SQLite needs none of this.
//
// # Upgrades
//
// Each release may add migrations; run Migrate before instances of the new
// release serve requests (the statements of a release expect its schema).
// Version 2 adds the owner column of the states table, nullable and
// indexed, which [Store.PutOwnedState] fills and [Store.DeleteOwnedStates]
// selects on; states written before it are filed under no owner. Version
// 3 adds, on PostgreSQL only, the functions <prefix>run_batch,
// <prefix>incr_below and <prefix>ct_equal (PL/pgSQL, which every
// PostgreSQL server has), through which RunBatch runs a batch in one
// statement; the role that runs Migrate needs the right to create
// functions in the schema, as it has to create tables. Version 4
// rebuilds, on SQLite only, every table in its primary key's order
// (WITHOUT ROWID), each in a copy that replaces it, so that a row written
// is one B-tree entry rather than two (the rows by rowid, and the index
// of the key): it takes the database's write lock for as long as copying
// the tables takes (5.7 seconds for 300,000 counters and 100,000 states
// on a small cloud machine), so run it before the instances start. On MySQL,
// whose DDL commits statement by statement, each migration is written so
// that running it again after an interruption completes it. Version 5
// replaces, on PostgreSQL only, <prefix>run_batch with one that also runs
// a replay ledger's advance (store.OpAdvance), on which the challenge's end
// of an authenticator-app sign-in waits in the same statement; instances
// of the release before it run on the new function unchanged.
//
// Counter keys (column k of <prefix>counters) are the library's and may
// change between releases without a migration: rows under keys no longer
// used are not read, and the sweep deletes them once their window ends.
// The counters per client network were once keyed by the client's address
// in the clear ("tf:ip:203.0.113.7"); they are now keyed by a keyed hash of
// the network, and the old rows are gone within an hour.
//
// # Sweeping
//
// Expired rows are ignored by every read, so the store is correct without
// cleaning, but they stay on disk until deleted, and some hold personal
// data (a pending challenge names its user and client). The store
// therefore sweeps by itself, with no setup: at most once per
// [Options.SweepInterval] (5 minutes by default, measured with the real
// time from New), the operation that finds a sweep due starts one in a
// goroutine of its own once its own statements are done, so it never
// waits for the sweep. A sweep deletes at most [Options.SweepLimit]
// expired rows from each table (10,000 by default), in statements of at
// most 500 rows so that other statements wait for one short batch at most
// (on SQLite, which has one writer, this matters); what is left waits for
// the next sweep. Each table's batch is one DELETE on its indexed expiry
// column that checks the expiry again on the row it deletes, so a row put
// again meanwhile with a later expiry stays. A failed sweep is reported to
// [Options.OnSweep], when set, and the next one runs on schedule. A store
// that serves no operation does not sweep; several instances sweeping one
// database is harmless.
//
// [Store.Close] stops automatic sweeping and waits for a sweep in
// progress; call it before closing the *sql.DB. The store keeps no
// goroutine between sweeps, so one that is never closed leaks nothing.
//
// To sweep on a schedule of your own instead (from one instance only, or
// from a job), set SweepInterval to a negative value and call
// [Store.Sweep], which deletes every expired row with one DELETE per
// table, for example with [store.SweepEvery]:
//
//	st, err := sqlstore.New(db, sqlstore.Options{SweepInterval: -1})
//	...
//	go store.SweepEvery(ctx, st, 5*time.Minute, func(err error) {
//		slog.Warn("twofactor sweep failed", "err", err)
//	})
//
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
//   - Decr is one UPDATE that subtracts one only from a live counter above
//     zero, so it never creates a row, never goes below zero, and keeps the
//     window.
//   - PutOwnedState is the upsert of PutState that also writes the owner
//     (PutState writes NULL there, so a key put again without an owner
//     leaves its former owner's filing); DeleteOwnedStates is one DELETE on
//     the indexed owner column, which deletes exactly the states filed
//     under the owner when it runs.
//   - IncrBatch ([store.BatchCounters]) increments several counters with
//     one multi-row upsert, rows in sorted key order so that concurrent
//     batches cannot deadlock each other.
//   - TakeStateReset ([store.StateResetter]) is one transaction: the
//     counters deleted, then the state taken as TakeState takes it.
//   - IncrBelow ([store.BoundedCounters]) is one transaction: a multi-row
//     upsert that locks every counter of the call in sorted key order (a
//     missing one is created as an ended row, which every read ignores)
//     and reads it, the decision in Go on the locked values, and one
//     multi-row upsert of the counters it increments. A call that
//     increments nothing rolls back, so a refused call writes nothing;
//     the ended rows of counters it does not increment, such as those of
//     Check entries, which are locked and read but never written, are
//     deleted before it commits. On SQLite, whose transactions take the
//     database's write lock when they begin, the lock is that one: the
//     counters are read with a plain SELECT, a missing one is not created,
//     and the counters whose window end does not move are written by an
//     upsert that sets their count alone, so that their entries in the
//     reset_at index are not written again.
//   - RunBatch ([store.Batcher]) is one transaction, committed once, in
//     which each operation runs its own method's statements, in order, so
//     that it keeps its method's atomicity and sees the writes of those
//     before it. A batch that contention rolls back (two batches that lock
//     the same rows in different orders can deadlock) is run again from
//     its first operation. On MySQL a batch in which a plain read follows
//     a write that follows a plain read runs in READ COMMITTED, so that
//     the later read sees the latest rows, as its method would, rather
//     than the snapshot of the first. The counters a batch's increments
//     lock stay locked to its commit, so what its later operations do to
//     them (another increment, a reset) is kept in the transaction and
//     written once, just before the COMMIT: one upsert and one DELETE,
//     however many operations named them. On MySQL, where each statement
//     is parsed and run on its own, the ended rows of counters that an
//     admitted increment named stay, and a reset of one ends its row in
//     the upsert: no read sees an ended row, the next step of the login
//     writes it again, and the sweeper removes what nobody does; a
//     refused increment still leaves no row. A batch saves the commits of
//     its writes, not round trips: BEGIN and COMMIT are two of its own.
//     On PostgreSQL a batch is instead one statement, SELECT
//     <prefix>run_batch(ops, now), whose PL/pgSQL does the same
//     statements' work, in the same order and with the same locks and
//     conditions, inside the server: one network round trip and one
//     commit in place of two to eight statements each. Its operations'
//     keys travel as JSON, so a batch with a string that is not valid
//     UTF-8 (which PostgreSQL's text refuses anyway) runs statement by
//     statement and fails there; a failure of the function fails the
//     whole batch, without naming the operation.
//   - MarkUsed and Advance are conditional upserts that replace a mark only
//     when it expired or (Advance) is lower. PostgreSQL and SQLite report the
//     winner through the affected-row count; on MySQL, whose count depends
//     on connection flags, the winner writes a random token and reads it
//     back in the same transaction (on MariaDB the upsert returns it:
//     INSERT ... RETURNING, as it returns the counters a bounded
//     increment locks; the store asks the server's version once, before
//     its first such transaction).
//   - TouchEnrollment ([store.EnrollmentToucher]) and TouchDevice
//     ([store.DeviceToucher]) are one UPDATE each that writes only the
//     last-use time of an existing row, so they never create a row, never
//     undo a concurrent rename, and TouchEnrollment never moves the time
//     back.
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
//   - Keys, groups, owners and ids are what the [store] contract allows:
//     valid UTF-8 without NUL bytes, at most [store.MaxKeyLen] (255) bytes,
//     which is what MySQL's VARBINARY(255) key columns hold. A key outside
//     those limits may make the operation fail with an error (PostgreSQL
//     refuses NUL bytes, MySQL longer keys), which the library treats as
//     "deny"; the library never passes one.
//   - The table prefix is validated ([CheckTablePrefix]) because it is part
//     of the SQL text; everything else is passed as a parameter.
//   - The SQLite helper sets synchronous=NORMAL: a process crash loses
//     nothing, but a power cut may roll back the last commits. See
//     [github.com/twofactorkit/twofactor/store/sqlstore/sqlite.DSN].
package sqlstore
