// Package sqlite opens a SQLite database file configured for sqlstore, with
// the pure-Go driver modernc.org/sqlite (no cgo). Importing it imports that
// driver; package sqlstore itself imports none, so hosts on PostgreSQL or
// MySQL never build SQLite.
//
//	db, err := sqlite.Open("twofactor.db")
//	if err != nil { ... }
//	defer db.Close()
//	st, err := sqlstore.New(db, sqlstore.Options{Dialect: sqlstore.SQLite})
//	if err != nil { ... }
//	if err := st.Migrate(ctx); err != nil { ... }
//	defer st.Close() // stops the store's automatic sweeping, before db.Close
//
// # Settings
//
// [DSN] turns on write-ahead logging (readers do not block the writer), a
// busy timeout of [BusyTimeoutMillis], and BEGIN IMMEDIATE transactions;
// [Open] also limits the pool to one connection, so concurrent writers
// queue in Go rather than fail with SQLITE_BUSY. The store's automatic
// sweep deletes expired rows in batches of at most 500, so a write that
// arrives during a sweep waits for one batch, not the whole sweep. Several
// processes may open the same file: the busy timeout makes them wait for
// each other, and sqlstore retries what SQLite still rolls back.
//
// # Security notes
//
// synchronous=NORMAL is set for speed: a commit survives a crash of the
// process but not necessarily a power cut, which could bring back a code
// consumed in the last moments before it. Use your own DSN with
// _pragma=synchronous(FULL) where that matters more than write throughput.
// The database file holds hashed codes and sealed secrets; keep it readable
// by the app's user only.
package sqlite
