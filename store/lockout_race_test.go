package store_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor/internal/flowtest"
	"github.com/twofactorkit/twofactor/internal/storespy"
	"github.com/twofactorkit/twofactor/keyring"
	"github.com/twofactorkit/twofactor/store"
	"github.com/twofactorkit/twofactor/store/storetest"
)

// Two Services on one memory store, 60 challenges of one user, five wrong
// email codes at each at once: exactly the lockout's ten reach a code,
// each round. (The TOTP race of the same shape runs on the server stores,
// whose tests hold it across instances.)
func TestLockoutRaceEmail(t *testing.T) {
	clock := storetest.NewClock(time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC))
	key, err := keyring.GenerateKey("lre")
	require.NoError(t, err)
	keys, err := keyring.New(key)
	require.NoError(t, err)
	spy := storespy.New(store.NewMemory(clock.Now))
	mail := &flowtest.Mailbox{}
	a := flowtest.NewInstance(t, spy, flowtest.Options{Keys: keys, Now: clock.Now, Mail: mail})
	b := flowtest.NewInstance(t, spy, flowtest.Options{Keys: keys, Now: clock.Now, Mail: mail})
	flowtest.LockoutRaceEmail(t, a, b, spy.Checked.Load, 10, 300)
}
