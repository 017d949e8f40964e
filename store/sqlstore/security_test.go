package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor/internal/flowtest"
	"github.com/twofactorkit/twofactor/keyring"
	"github.com/twofactorkit/twofactor/store/sqlstore"
	"github.com/twofactorkit/twofactor/store/storetest"
)

// twoInstances builds two app instances with their own connection pools on
// one database, with the library's default limits.
func twoInstances(t *testing.T, be backend) (a, b *flowtest.Instance, clock *storetest.Clock) {
	t.Helper()
	clock = storetest.NewClock(time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC))
	key, err := keyring.GenerateKey("sec")
	require.NoError(t, err)
	keys, err := keyring.New(key)
	require.NoError(t, err)
	db := be.open(t)
	sa := migrated(t, db, be.dialect, clock.Now)
	if be.dialect != sqlstore.SQLite { // SQLite: one file, one pool; two stores on it
		db = be.open(t)
	}
	sb, err := sqlstore.New(db, sqlstore.Options{Dialect: be.dialect, TablePrefix: sa.TablePrefix(), Now: clock.Now})
	require.NoError(t, err)
	mail := &flowtest.Mailbox{}
	a = flowtest.NewInstance(t, sa, flowtest.Options{Keys: keys, Now: clock.Now, Mail: mail, DefaultCaps: true})
	b = flowtest.NewInstance(t, sb, flowtest.Options{Keys: keys, Now: clock.Now, Mail: mail, DefaultCaps: true})
	return a, b, clock
}

// The lockout holds across two instances however concurrent wrong answers
// interleave; a user id at the bound works on every dialect and a longer
// one is refused before the database; verification sends cannot spend a
// victim's login budget.
func TestSecurityAcrossInstances(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel() // one database each: their waits overlap
			a, b, clock := twoInstances(t, be)
			rounds := 5
			if be.dialect == sqlstore.SQLite {
				rounds = 2 // one writer at a time: each round takes seconds
			}
			t.Run("lockout race", func(t *testing.T) { flowtest.LockoutRace(t, a, b, clock, rounds, 300) })
			t.Run("user id bounds", func(t *testing.T) { flowtest.UserIDBounds(t, a, b, clock) })
			t.Run("verification budget", func(t *testing.T) { flowtest.VerificationSpendsNoLoginBudget(t, a, b) })
		})
	}
}

// tablesOf lists every table under prefix, from the database's own
// catalog, so that a table added later is read too.
func tablesOf(t *testing.T, db *sql.DB, d sqlstore.Dialect, prefix string) []string {
	t.Helper()
	var q string
	switch d {
	case sqlstore.SQLite:
		q = `SELECT name FROM sqlite_master WHERE type = 'table' AND substr(name, 1, length($1)) = $1`
	case sqlstore.Postgres:
		q = `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND left(table_name, length($1)) = $1`
	default:
		q = `SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() AND left(table_name, char_length(?)) = ?`
	}
	args := []any{prefix}
	if d == sqlstore.MySQL {
		args = append(args, prefix)
	}
	return column(t, db, q, args...)
}

// everyRow returns every row of every table under prefix as text: the
// table, then each column's name and value.
func everyRow(t *testing.T, db *sql.DB, d sqlstore.Dialect, prefix string) []string {
	t.Helper()
	tables := tablesOf(t, db, d, prefix)
	require.Contains(t, tables, prefix+"counters")
	var out []string
	for _, table := range tables {
		rows, err := db.QueryContext(context.Background(), "SELECT * FROM "+table)
		require.NoError(t, err)
		cols, err := rows.Columns()
		require.NoError(t, err)
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			require.NoError(t, rows.Scan(ptrs...))
			var b strings.Builder
			b.WriteString(table)
			for i, v := range vals {
				if s, ok := v.([]byte); ok {
					v = string(s)
				}
				fmt.Fprintf(&b, " %s=%v", cols[i], v)
			}
			out = append(out, b.String())
		}
		require.NoError(t, rows.Err())
		rows.Close()
	}
	return out
}

// No table holds a client's address, in any form: the per-network
// counters of the Service and of the email and SMS codes are keyed by a
// keyed hash of the network, and the challenge record seals the address.
func TestNoClientAddressAtRest(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			clock := storetest.NewClock(time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC))
			key, err := keyring.GenerateKey("sec")
			require.NoError(t, err)
			keys, err := keyring.New(key)
			require.NoError(t, err)
			db := be.open(t)
			s := migrated(t, db, be.dialect, clock.Now)
			in := flowtest.NewInstance(t, s, flowtest.Options{Keys: keys, Now: clock.Now, DefaultCaps: true})
			addrs := flowtest.ClientTrail(t, in)
			rows := everyRow(t, db, be.dialect, s.TablePrefix())
			counters := 0
			for _, r := range rows {
				if strings.HasPrefix(r, s.TablePrefix()+"counters ") {
					counters++
				}
				for _, a := range addrs {
					require.NotContains(t, r, a, "a stored row holds a client address")
				}
			}
			require.NotZero(t, counters, "the flow wrote counters")
			require.Contains(t, strings.Join(rows, "\n"), "tf:ip:", "the per-network counter is stored")
			require.Contains(t, strings.Join(rows, "\n"), "otc:cap:ip:", "the per-network send cap is stored")
		})
	}
}
