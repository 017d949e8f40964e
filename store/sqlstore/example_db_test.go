package sqlstore_test

import (
	"database/sql"
	"log"
)

// openExampleDB returns a pool whose connections are opened lazily, so the
// constructor examples run without a server.
func openExampleDB() *sql.DB {
	db, err := sql.Open("pgx", "postgres://app@127.0.0.1:1/app")
	if err != nil {
		log.Fatal(err)
	}
	return db
}
