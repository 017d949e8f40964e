package store_test

import (
	"testing"
	"time"

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
