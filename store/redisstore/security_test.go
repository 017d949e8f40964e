package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
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

// everyKey returns every key under s's prefix and its value as text,
// whatever its type.
func everyKey(t *testing.T, s *Store) []string {
	t.Helper()
	ctx := context.Background()
	var out []string
	err := s.scan(ctx, func(keys []string) error {
		for _, k := range keys {
			typ, err := s.rdb.Type(ctx, k).Result()
			if err != nil {
				return err
			}
			var v any
			switch typ {
			case "string":
				v, err = s.rdb.Get(ctx, k).Result()
			case "hash":
				v, err = s.rdb.HGetAll(ctx, k).Result()
			case "set":
				v, err = s.rdb.SMembers(ctx, k).Result()
			case "zset":
				v, err = s.rdb.ZRangeWithScores(ctx, k, 0, -1).Result()
			case "list":
				v, err = s.rdb.LRange(ctx, k, 0, -1).Result()
			case "none": // expired meanwhile
			default:
				t.Errorf("key %s has type %s, which this test cannot read", k, typ)
			}
			if err != nil && !errors.Is(err, redis.Nil) {
				return err
			}
			out = append(out, fmt.Sprintf("%s (%s) = %v", k, typ, v))
		}
		return nil
	})
	require.NoError(t, err)
	return out
}

// No key and no value holds a client's address, in any form: the
// per-network counters of the Service and of the email and SMS codes are
// keyed by a keyed hash of the network, and the challenge record seals
// the address.
func TestNoClientAddressAtRest(t *testing.T) {
	clock := storetest.NewClock(time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC))
	key, err := keyring.GenerateKey("sec")
	require.NoError(t, err)
	keys, err := keyring.New(key)
	require.NoError(t, err)
	s, _ := newStore(t, clock.Now)
	in := flowtest.NewInstance(t, s, flowtest.Options{Keys: keys, Now: clock.Now, DefaultCaps: true})
	addrs := flowtest.ClientTrail(t, in)
	all := everyKey(t, s)
	require.NotEmpty(t, all)
	for _, kv := range all {
		for _, a := range addrs {
			require.NotContains(t, kv, a, "a stored key or value holds a client address")
		}
	}
	joined := strings.Join(all, "\n")
	require.Contains(t, joined, "tf:ip:", "the per-network counter is stored")
	require.Contains(t, joined, "otc:cap:ip:", "the per-network send cap is stored")
}
