package sqlstore_test

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor/internal/flowtest"
	"github.com/twofactorkit/twofactor/internal/storespy"
	"github.com/twofactorkit/twofactor/keyring"
	"github.com/twofactorkit/twofactor/store"
	"github.com/twofactorkit/twofactor/store/sqlstore"
	"github.com/twofactorkit/twofactor/store/storetest"
)

// serverBackends are the dialects that app instances share over a network.
var serverBackends = []backend{
	{"Postgres", sqlstore.Postgres, openPostgres},
	{"MySQL", sqlstore.MySQL, openMySQL},
}

// TestMultiInstance: two app instances, each with its own connection pool
// on the same database, race 64 goroutines on one email code, one TOTP step
// and one backup code, 100 rounds (10 under the race detector, as the
// conformance races): exactly one success each time. Every round is the
// same race on fresh records, so more rounds only repeat it.
func TestMultiInstance(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-instance race: long")
	}
	rounds := 100
	if raceEnabled {
		rounds = 10
	}
	for _, be := range serverBackends {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel() // separate servers: their fsync waits overlap
			clock := storetest.NewClock(time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC))
			key, err := keyring.GenerateKey("mi")
			require.NoError(t, err)
			keys, err := keyring.New(key)
			require.NoError(t, err)
			sa := migrated(t, be.open(t), be.dialect, clock.Now)
			sb, err := sqlstore.New(be.open(t), sqlstore.Options{Dialect: be.dialect, TablePrefix: sa.TablePrefix(), Now: clock.Now})
			require.NoError(t, err)
			mail := &flowtest.Mailbox{}
			a := flowtest.NewInstance(t, sa, flowtest.Options{Keys: keys, Now: clock.Now, Mail: mail})
			b := flowtest.NewInstance(t, sb, flowtest.Options{Keys: keys, Now: clock.Now, Mail: mail})
			flowtest.MultiInstance(t, a, b, clock, rounds, 64)
		})
	}
}

// TestBackupCodeDoubleSubmitService: one backup code answered on eight
// challenges of one user at once, through two instances each with its
// own pool, is let in once, and no twin counts toward the lockout: the
// code's submission mark and its consumption, in the transaction that
// counts the answer, are ordered by the mark's row lock.
func TestBackupCodeDoubleSubmitService(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			clock := storetest.NewClock(time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC))
			db := be.open(t)
			sa := migrated(t, db, be.dialect, clock.Now)
			sb := sa
			if be.dialect != sqlstore.SQLite {
				var err error
				sb, err = sqlstore.New(be.open(t), sqlstore.Options{Dialect: be.dialect, TablePrefix: sa.TablePrefix(), Now: clock.Now})
				require.NoError(t, err)
			}
			a, b := flowtest.NewPair(t, sa, sb, flowtest.Options{Now: clock.Now})
			flowtest.BackupCodeDoubleSubmitService(t, a, b, func(key string) int64 {
				n, _, err := sa.Peek(context.Background(), key)
				require.NoError(t, err)
				return n
			}, "svc-double-", 10, 8)
		})
	}
}

// TestLockoutRaceEmail: two app instances, each with its own pool on the
// same database, 60 challenges of one user, five wrong email codes at
// each at once: exactly the lockout's ten reach a code.
func TestLockoutRaceEmail(t *testing.T) {
	for _, be := range serverBackends {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			clock := storetest.NewClock(time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC))
			sa := migrated(t, be.open(t), be.dialect, clock.Now)
			sb, err := sqlstore.New(be.open(t), sqlstore.Options{Dialect: be.dialect, TablePrefix: sa.TablePrefix(), Now: clock.Now})
			require.NoError(t, err)
			spyA, spyB := storespy.New(sa), storespy.New(sb)
			a, b := flowtest.NewPair(t, spyA, spyB, flowtest.Options{Now: clock.Now})
			flowtest.LockoutRaceEmail(t, a, b, func() int64 { return spyA.Checked.Load() + spyB.Checked.Load() }, 2, 300)
		})
	}
}

// BenchmarkLoginFlow: complete logins (Begin, Send an email code, Verify)
// per second at 1, 8 and 64 goroutines, against SELECT 1 and a durable
// one-row write through the same pool in the same run.
func BenchmarkLoginFlow(b *testing.B) { benchLoginFlow(b, flowtest.BenchLogin) }

// BenchmarkLoginFlowRealistic: BenchmarkLoginFlow with the factors a real
// app offers, for a TOTP login and an email login.
func BenchmarkLoginFlowRealistic(b *testing.B) { benchLoginFlow(b, flowtest.BenchLoginRealistic) }

func benchLoginFlow(b *testing.B, bench func(*testing.B, store.Store, func(context.Context) error, ...flowtest.Baseline)) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			db := be.open(b)
			s := migrated(b, db, be.dialect, nil)
			scratch := s.TablePrefix() + "bench_scratch"
			_, err := db.Exec("CREATE TABLE " + scratch + " (id INTEGER PRIMARY KEY, n BIGINT NOT NULL)")
			require.NoError(b, err)
			b.Cleanup(func() { _, _ = db.Exec("DROP TABLE " + scratch) })
			for i := range 64 { // one row per writer at most, as flows touch their own rows
				_, err = db.Exec("INSERT INTO " + scratch + " (id, n) VALUES (" + strconv.Itoa(i) + ", 0)")
				require.NoError(b, err)
			}
			var next atomic.Int64
			write := flowtest.Baseline{Name: "write", Op: func(ctx context.Context) error {
				_, err := db.ExecContext(ctx, "UPDATE "+scratch+" SET n = n + 1 WHERE id = "+strconv.FormatInt(next.Add(1)%64, 10))
				return err
			}}
			bench(b, s, func(ctx context.Context) error {
				var one int
				return db.QueryRowContext(ctx, "SELECT 1").Scan(&one)
			}, write)
		})
	}
}
