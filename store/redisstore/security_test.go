package redisstore

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor/internal/flowtest"
	"github.com/twofactorkit/twofactor/keyring"
	"github.com/twofactorkit/twofactor/store/storetest"
)

// The lockout holds across two instances, each with its own client, however
// concurrent wrong answers interleave; a user id at the bound works and a
// longer one is refused before Redis; verification sends cannot spend a
// victim's login budget.
func TestSecurityAcrossInstances(t *testing.T) {
	clock := storetest.NewClock(time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC))
	key, err := keyring.GenerateKey("sec")
	require.NoError(t, err)
	keys, err := keyring.New(key)
	require.NoError(t, err)
	sa, _ := newStore(t, clock.Now)
	sb, err := New(newClient(t), Options{Prefix: sa.Prefix(), Now: clock.Now})
	require.NoError(t, err)
	mail := &flowtest.Mailbox{}
	a := flowtest.NewInstance(t, sa, flowtest.Options{Keys: keys, Now: clock.Now, Mail: mail, DefaultCaps: true})
	b := flowtest.NewInstance(t, sb, flowtest.Options{Keys: keys, Now: clock.Now, Mail: mail, DefaultCaps: true})
	t.Run("lockout race", func(t *testing.T) { flowtest.LockoutRace(t, a, b, clock, 10, 300) })
	t.Run("user id bounds", func(t *testing.T) { flowtest.UserIDBounds(t, a, b, clock) })
	t.Run("verification budget", func(t *testing.T) { flowtest.VerificationSpendsNoLoginBudget(t, a, b) })
}
