// Package flowtest runs complete second-factor flows against a store, for
// the multi-instance race tests and the login throughput benchmarks that
// every server store (SQL, Redis) runs. It builds real factors (email
// codes, TOTP, backup codes) on the store under test.
package flowtest

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/backupcodes"
	"github.com/twofactorkit/twofactor/emailcode"
	"github.com/twofactorkit/twofactor/store"
	"github.com/twofactorkit/twofactor/store/storetest"
	"github.com/twofactorkit/twofactor/totp"
)

// Mailbox is an email sender that keeps the last code sent to each
// address, for tests that must read codes quickly from many goroutines.
type Mailbox struct{ last sync.Map }

// Send implements emailcode.Sender.
func (m *Mailbox) Send(_ context.Context, msg emailcode.Message) error {
	m.last.Store(msg.To, msg.Text)
	return nil
}

// Code returns the six-digit code of the last message to addr.
func (m *Mailbox) Code(addr string) (string, error) {
	v, ok := m.last.Load(addr)
	if !ok {
		return "", fmt.Errorf("no message to %s", addr)
	}
	text := v.(string)
	for i := 0; i+6 <= len(text); i++ {
		if isDigits(text[i:i+6]) && (i == 0 || !isDigit(text[i-1])) && (i+6 == len(text) || !isDigit(text[i+6])) {
			return text[i : i+6], nil
		}
	}
	return "", fmt.Errorf("no code in message to %s", addr)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// Instance is one app instance: a Service and its factors on a store. Two
// instances built on two connections to the same database behave as two
// app servers behind a load balancer.
type Instance struct {
	Service *twofactor.Service
	Email   *emailcode.Factor
	TOTP    *totp.Factor
	Backup  *backupcodes.Factor
	Mail    *Mailbox
}

// Options configure an instance.
type Options struct {
	Keys *twofactor.Keyring // shared by every instance; required
	Now  func() time.Time   // the clock the store was given; nil: time.Now
	Mail *Mailbox           // shared mailbox; nil: a new one
}

// NewInstance builds an instance on st. The per-IP limit is raised, since
// every request comes from one test client; the user lockout keeps its
// defaults, so races also show that a lost double submit is no guess.
func NewInstance(tb testing.TB, st store.Store, o Options) *Instance {
	tb.Helper()
	if o.Mail == nil {
		o.Mail = &Mailbox{}
	}
	events := &twofactor.Events{Discard: true, Now: o.Now}
	email, err := emailcode.New(emailcode.Config{
		Store: st, Keys: o.Keys, Sender: o.Mail, Events: events, Now: o.Now,
		Caps: emailcode.Caps{PerUser: 1 << 30, PerDestination: 1 << 30, PerIP: 1 << 30},
	})
	require.NoError(tb, err)
	tf, err := totp.New(totp.Config{Store: st, Keys: o.Keys, Issuer: "Flowtest", Events: events, Now: o.Now})
	require.NoError(tb, err)
	bc, err := backupcodes.New(backupcodes.Config{Store: st, Keys: o.Keys, Events: events, Now: o.Now})
	require.NoError(tb, err)
	svc, err := twofactor.New(twofactor.Config{
		Store: st, Keys: o.Keys,
		Factors: []twofactor.Factor{email, tf, bc},
		Limits:  twofactor.Limits{MaxIPAttempts: 1 << 30},
		Events:  events, Now: o.Now,
	})
	require.NoError(tb, err)
	bc.SetProofs(svc)
	return &Instance{Service: svc, Email: email, TOTP: tf, Backup: bc, Mail: o.Mail}
}

var client = twofactor.Client{IP: netip.MustParseAddr("198.51.100.20"), UserAgent: "flowtest"}

// race runs fn(i) for i in [0, n) from n goroutines released together and
// returns how many returned true.
func race(n int, fn func(i int) bool) int {
	var wins atomic.Int64
	var wg sync.WaitGroup
	gate := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-gate
			if fn(i) {
				wins.Add(1)
			}
		}()
	}
	close(gate)
	wg.Wait()
	return int(wins.Load())
}

// MultiInstance races goroutines split across instances a and b (separate
// connection pools on one database) on one email code, one TOTP step and
// one backup code, rounds times, and requires exactly one success each
// time. clock must be the clock both stores and instances use; it is
// advanced 30 s per round so each round has a fresh TOTP step.
func MultiInstance(t *testing.T, a, b *Instance, clock *storetest.Clock, rounds, goroutines int) {
	ctx := context.Background()
	inst := func(i int) *Instance {
		if i%2 == 0 {
			return a
		}
		return b
	}
	prefix := fmt.Sprintf("mi%d-", time.Now().UnixNano())
	for r := 0; r < rounds; r++ {
		clock.Advance(30 * time.Second)
		user := twofactor.User{ID: fmt.Sprintf("%s%d", prefix, r), Email: fmt.Sprintf("%s%d@example.com", prefix, r)}

		// Enroll TOTP on a, backup codes on b.
		p, err := a.TOTP.BeginEnroll(ctx, user)
		require.NoError(t, err)
		secret, err := totp.DecodeSecret(p.Secret)
		require.NoError(t, err)
		params := a.TOTP.Params()
		_, err = b.TOTP.ConfirmEnroll(ctx, user, p.ID, params.Code(secret, clock.Now()))
		require.NoError(t, err)
		codes, err := b.Backup.Generate(ctx, user)
		require.NoError(t, err)
		clock.Advance(30 * time.Second) // the confirming step is spent

		// One email code, many verifiers on both instances.
		begun, err := a.Service.Begin(ctx, user, client)
		require.NoError(t, err)
		require.Equal(t, twofactor.StatusChallenge, begun.Status)
		ch := begun.Challenge
		_, err = b.Service.Send(ctx, ch.ID, twofactor.MethodEmail, client)
		require.NoError(t, err)
		code, err := a.Mail.Code(user.Email)
		require.NoError(t, err)
		wins := race(goroutines, func(i int) bool {
			res, err := inst(i).Service.Verify(ctx, twofactor.Answer{ChallengeID: ch.ID, Method: twofactor.MethodEmail, Code: code, UserID: user.ID, Client: client})
			return err == nil && res != nil
		})
		require.Equal(t, 1, wins, "round %d: one email code accepted %d times", r, wins)

		// One TOTP step and one backup code, each submitted on many
		// challenges of the same user.
		for _, m := range []struct {
			method twofactor.Method
			answer string
		}{
			{twofactor.MethodTOTP, params.Code(secret, clock.Now())},
			{twofactor.MethodBackupCode, strings.ToUpper(codes[r%len(codes)])},
		} {
			// The challenges are begun concurrently too: setup, not the race.
			ids := make([]string, goroutines)
			errs := make([]error, goroutines)
			race(goroutines, func(i int) bool {
				begun, err := inst(i).Service.Begin(ctx, user, client)
				if err == nil {
					ids[i] = begun.Challenge.ID
				}
				errs[i] = err
				return err == nil
			})
			for _, err := range errs {
				require.NoError(t, err)
			}
			wins := race(goroutines, func(i int) bool {
				res, err := inst(i).Service.Verify(ctx, twofactor.Answer{ChallengeID: ids[i], Method: m.method, Code: m.answer, UserID: user.ID, Client: client})
				return err == nil && res != nil
			})
			require.Equal(t, 1, wins, "round %d: one %s answer accepted %d times", r, m.method, wins)
		}
	}
}
