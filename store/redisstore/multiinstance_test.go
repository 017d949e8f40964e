package redisstore

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor/internal/flowtest"
	"github.com/twofactorkit/twofactor/internal/storespy"
	"github.com/twofactorkit/twofactor/keyring"
	"github.com/twofactorkit/twofactor/store/storetest"
)

// TestMultiInstance: two app instances, each with its own client (its own
// connection pool) on the same Redis, race 64 goroutines on one email
// code, one TOTP step and one backup code, 100 rounds (10 under the race
// detector): exactly one success each time. Every round is the same race on
// fresh records, so more rounds only repeat it.
func TestMultiInstance(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-instance race: long")
	}
	rounds := 100
	if raceEnabled {
		rounds = 10
	}
	clock := storetest.NewClock(time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC))
	key, err := keyring.GenerateKey("mi")
	require.NoError(t, err)
	keys, err := keyring.New(key)
	require.NoError(t, err)
	sa, _ := newStore(t, clock.Now)
	rdbB := newClient(t)
	sb, err := New(rdbB, Options{Prefix: sa.Prefix(), Now: clock.Now})
	require.NoError(t, err)
	mail := &flowtest.Mailbox{}
	a := flowtest.NewInstance(t, sa, flowtest.Options{Keys: keys, Now: clock.Now, Mail: mail})
	b := flowtest.NewInstance(t, sb, flowtest.Options{Keys: keys, Now: clock.Now, Mail: mail})
	flowtest.MultiInstance(t, a, b, clock, rounds, 64)
}

// TestLockoutRaceEmail: two app instances, 60 challenges of one user, five
// wrong email codes at each at once: exactly the lockout's ten reach a
// code, each round (10 rounds, 3 under the race detector).
func TestLockoutRaceEmail(t *testing.T) {
	rounds := 10
	if raceEnabled {
		rounds = 3
	}
	clock := storetest.NewClock(time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC))
	sa, _ := newStore(t, clock.Now)
	sb, err := New(newClient(t), Options{Prefix: sa.Prefix(), Now: clock.Now})
	require.NoError(t, err)
	spyA, spyB := storespy.New(sa), storespy.New(sb)
	a, b := flowtest.NewPair(t, spyA, spyB, flowtest.Options{Now: clock.Now})
	flowtest.LockoutRaceEmail(t, a, b, func() int64 { return spyA.Checked.Load() + spyB.Checked.Load() }, rounds, 300)
}

// TestBackupCodeDoubleSubmit: one backup code submitted on several
// challenges at once, through two instances on their own connection
// pools, is accepted once, and every other submission is a reuse
// (twofactor.ErrCodeReused), which the lockout does not count, never a
// wrong code: the factor's batch (the submission's count, the code's
// consumption) runs isolated from its twins' (see TestRunBatchIsolated),
// so the twin that counted the submission first is the one that finds
// the code. (Short pipelines seldom interleave even without that, so this
// test alone would seldom see it go; TestRunBatchIsolated does.)
func TestBackupCodeDoubleSubmit(t *testing.T) {
	clock := storetest.NewClock(time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC))
	sa, _ := newStore(t, clock.Now)
	sb, err := New(newClient(t), Options{Prefix: sa.Prefix(), Now: clock.Now})
	require.NoError(t, err)
	a, b := flowtest.NewPair(t, sa, sb, flowtest.Options{Now: clock.Now})
	loadScripts(t, sa.rdb) // see TestCluster/BackupCodeDoubleSubmit
	flowtest.BackupCodeDoubleSubmit(t, a, b, clock.Now, "double-", 40, 8)
	// Through the Service, the factor's check in the count's transaction.
	flowtest.BackupCodeDoubleSubmitService(t, a, b, peeker(t, sa), "svc-double-", 40, 8)
}

// peeker returns a function that reads a counter of s.
func peeker(t *testing.T, s *Store) func(string) int64 {
	return func(key string) int64 {
		t.Helper()
		n, _, err := s.Peek(context.Background(), key)
		require.NoError(t, err)
		return n
	}
}
