package sqlstore_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/twofactorkit/twofactor/store"
	"github.com/twofactorkit/twofactor/store/sqlstore"
	"github.com/twofactorkit/twofactor/store/sqlstore/sqlite"
)

// Open a SQLite file, migrate it, and use the store: a one-time code is
// accepted once.
func Example() {
	dir, err := os.MkdirTemp("", "sqlstore-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	db, err := sqlite.Open(filepath.Join(dir, "twofactor.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	st, err := sqlstore.New(db, sqlstore.Options{Dialect: sqlstore.SQLite})
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close() // stops automatic sweeping, before db.Close
	ctx := context.Background()
	if err := st.Migrate(ctx); err != nil {
		log.Fatal(err)
	}

	code := store.Code{Group: "challenge-1", Key: "email", Hash: []byte("keyed-hash"), ExpiresAt: time.Now().Add(15 * time.Minute), MaxAttempts: 5}
	if err := st.PutCode(ctx, code); err != nil {
		log.Fatal(err)
	}
	for _, answer := range []string{"wrong-hash", "keyed-hash", "keyed-hash"} {
		status, err := st.ConsumeCode(ctx, "challenge-1", "email", []byte(answer))
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(status)
	}
	// Output:
	// mismatch
	// matched
	// not_found
}

// Sweep deletes every expired row at once. The store also sweeps by itself
// (see the package documentation); a host that sweeps on its own schedule
// turns that off with a negative SweepInterval.
func ExampleStore_Sweep() {
	dir, err := os.MkdirTemp("", "sqlstore-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	db, err := sqlite.Open(filepath.Join(dir, "twofactor.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	st, err := sqlstore.New(db, sqlstore.Options{Now: func() time.Time { return now }, SweepInterval: -1})
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	if err := st.Migrate(ctx); err != nil {
		log.Fatal(err)
	}
	_ = st.PutState(ctx, "short", []byte("x"), now.Add(time.Minute))
	_ = st.PutState(ctx, "long", []byte("x"), now.Add(time.Hour))
	_, _ = st.MarkUsed(ctx, "totp-step", now.Add(time.Minute))

	now = now.Add(2 * time.Minute) // the clock moves on
	n, err := st.Sweep(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("removed", n)
	// Output: removed 2
}

// With PostgreSQL, import the pgx stdlib driver and open it as "pgx":
//
//	import _ "github.com/jackc/pgx/v5/stdlib"
//
//	db, err := sql.Open("pgx", "postgres://app@db/app")
func ExampleNew_postgres() {
	db := openExampleDB()
	defer db.Close()
	st, err := sqlstore.New(db, sqlstore.Options{Dialect: sqlstore.Postgres, TablePrefix: "auth_2fa_"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(st.Dialect(), st.TablePrefix())
	// Output: postgres auth_2fa_
}
