package sqlstore_test

import (
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
