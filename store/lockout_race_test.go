package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor/internal/flowtest"
	"github.com/twofactorkit/twofactor/internal/storespy"
	"github.com/twofactorkit/twofactor/store"
	"github.com/twofactorkit/twofactor/store/storetest"
)

// Two Services on one memory store, 60 challenges of one user, five wrong
// email codes at each at once: exactly the lockout's ten reach a code,
// each round. (The TOTP race of the same shape runs on the server stores,
// whose tests hold it across instances.)
func TestLockoutRaceEmail(t *testing.T) {
	clock := storetest.NewClock(time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC))
	spy := storespy.New(store.NewMemory(clock.Now))
	a, b := flowtest.NewPair(t, spy, spy, flowtest.Options{Now: clock.Now})
	flowtest.LockoutRaceEmail(t, a, b, spy.Checked.Load, 10, 300)
}

// Two Services on one memory store: one backup code answered on eight
// challenges at once is let in once, and no twin counts toward the
// lockout.
func TestBackupCodeDoubleSubmitService(t *testing.T) {
	clock := storetest.NewClock(time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC))
	mem := store.NewMemory(clock.Now)
	a, b := flowtest.NewPair(t, mem, mem, flowtest.Options{Now: clock.Now})
	flowtest.BackupCodeDoubleSubmitService(t, a, b, peeker(t, mem), "svc-double-", 40, 8)
}

// peeker returns a function that reads a counter of st.
func peeker(t *testing.T, st store.Counters) func(string) int64 {
	return func(key string) int64 {
		t.Helper()
		n, _, err := st.Peek(context.Background(), key)
		require.NoError(t, err)
		return n
	}
}
