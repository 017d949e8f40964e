package twofactor_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/internal/storespy"
	"github.com/twofactorkit/twofactor/store"
)

var ctx = context.Background()

func TestNewValidates(t *testing.T) {
	keys := newKeys(t)
	mem := store.NewMemory()
	f := &codeFactor{method: twofactor.MethodEmail}
	rec := recoveryFactor{&codeFactor{method: twofactor.MethodBackupCode}}
	base := func() twofactor.Config {
		return twofactor.Config{Store: mem, Keys: keys, Factors: factors(f, rec)}
	}
	tests := []struct {
		name string
		mod  func(*twofactor.Config)
		want string // substring of the error; "" means valid
	}{
		{"valid", func(*twofactor.Config) {}, ""},
		{"no store", func(c *twofactor.Config) { c.Store = nil }, "Config.Store is nil"},
		{"no keys", func(c *twofactor.Config) { c.Keys = nil }, "Config.Keys is nil"},
		{"no factors", func(c *twofactor.Config) { c.Factors = nil }, "Config.Factors is empty"},
		{"nil factor", func(c *twofactor.Config) { c.Factors = []twofactor.FactorConfig{nil} }, "Factors[0] is nil"},
		{"no factor built", func(c *twofactor.Config) { c.Factors = factors(nil) }, "Factors[0] built no factor"},
		{"duplicate method", func(c *twofactor.Config) { c.Factors = factors(f, f) }, "two factors for method"},
		{"bad method name", func(c *twofactor.Config) {
			c.Factors = factors(&codeFactor{method: "Bad Name"})
		}, "method name"},
		{"policy names unknown method", func(c *twofactor.Config) { c.Policy.Methods = []twofactor.Method{"sms"} }, `"sms" but no factor`},
		{"default not allowed", func(c *twofactor.Config) {
			c.Policy.Methods = []twofactor.Method{twofactor.MethodBackupCode}
			c.Policy.Default = twofactor.MethodEmail
		}, "not in Policy.Methods"},
		{"default unknown", func(c *twofactor.Config) { c.Policy.Default = "sms" }, "no configured factor"},
		{"mandatory unknown", func(c *twofactor.Config) { c.Policy.Mandatory = []twofactor.Method{"sms"} }, `"sms" but no factor`},
		{"required with recovery only", func(c *twofactor.Config) {
			c.Policy.Required = true
			c.Policy.Methods = []twofactor.Method{twofactor.MethodBackupCode}
		}, "not recovery-only"},
		{"negative attempts", func(c *twofactor.Config) { c.Limits.MaxAttempts = -1 }, "must not be negative"},
		{"negative ttl", func(c *twofactor.Config) { c.Limits.ChallengeTTL = -time.Second }, "must not be negative"},
		{"day-long challenge", func(c *twofactor.Config) { c.Limits.ChallengeTTL = 48 * time.Hour }, "longer than 24h"},
		// Each bound at its edge, and one step past it.
		{"challenge of 24h", func(c *twofactor.Config) { c.Limits.ChallengeTTL = 24 * time.Hour }, ""},
		{"challenge past 24h", func(c *twofactor.Config) { c.Limits.ChallengeTTL = 24*time.Hour + 1 }, "longer than 24h"},
		{"negative lockout", func(c *twofactor.Config) { c.Limits.LockoutDuration = -1 }, "durations must not be negative"},
		{"negative memory", func(c *twofactor.Config) { c.Limits.FailureMemory = -1 }, "durations must not be negative"},
		{"negative IP window", func(c *twofactor.Config) { c.Limits.IPWindow = -1 }, "durations must not be negative"},
		{"negative user failures", func(c *twofactor.Config) { c.Limits.MaxUserFailures = -1 }, "counts must not be negative"},
		{"negative consecutive", func(c *twofactor.Config) { c.Limits.MaxConsecutiveFailures = -1 }, "counts must not be negative"},
		{"negative IP attempts", func(c *twofactor.Config) { c.Limits.MaxIPAttempts = -1 }, "counts must not be negative"},
		{"100 in a row", func(c *twofactor.Config) { c.Limits.MaxConsecutiveFailures = 100 }, ""},
		{"101 in a row", func(c *twofactor.Config) { c.Limits.MaxConsecutiveFailures = 101 }, "above 100"},
		{"run as long as the lockout's", func(c *twofactor.Config) {
			c.Limits.MaxUserFailures, c.Limits.MaxConsecutiveFailures = 20, 20
		}, ""},
		{"run shorter than the lockout's", func(c *twofactor.Config) {
			c.Limits.MaxUserFailures, c.Limits.MaxConsecutiveFailures = 20, 19
		}, "below MaxUserFailures"},
		{"memory as long as the lockout", func(c *twofactor.Config) {
			c.Limits.LockoutDuration, c.Limits.FailureMemory = time.Hour, time.Hour
		}, ""},
		{"memory shorter than the lockout", func(c *twofactor.Config) {
			c.Limits.LockoutDuration, c.Limits.FailureMemory = time.Hour, time.Hour-1
		}, "shorter than LockoutDuration"},
		{"IPv6 /48", func(c *twofactor.Config) { c.Limits.IPv6Prefix = 48 }, ""},
		{"IPv6 /47", func(c *twofactor.Config) { c.Limits.IPv6Prefix = 47 }, "out of range"},
		{"IPv6 /128", func(c *twofactor.Config) { c.Limits.IPv6Prefix = 128 }, ""},
		{"IPv6 /129", func(c *twofactor.Config) { c.Limits.IPv6Prefix = 129 }, "out of range"},
		{"negative step-up age", func(c *twofactor.Config) { c.StepUpMaxAge = -1 }, "StepUpMaxAge must not be negative"},
		{"grace without required", func(c *twofactor.Config) { c.Policy.Grace = twofactor.Grace{Days: 7} }, "Required is not"},
		{"negative grace days", func(c *twofactor.Config) {
			c.Policy.Required, c.Policy.Grace = true, twofactor.Grace{Days: -1}
		}, "must not be negative"},
		{"negative grace skips", func(c *twofactor.Config) {
			c.Policy.Required, c.Policy.Grace = true, twofactor.Grace{Skips: -1}
		}, "must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := base()
			tt.mod(&cfg)
			svc, err := twofactor.New(cfg)
			if tt.want == "" {
				require.NoError(t, err)
				require.NotNil(t, svc)
				return
			}
			require.Error(t, err)
			assert.ErrorIs(t, err, twofactor.ErrConfig)
			assert.Contains(t, err.Error(), tt.want)
			assert.Nil(t, svc)
		})
	}
}

func TestLoginWithSentCode(t *testing.T) {
	e := newEnv(t, nil)
	ch := e.begin()
	assert.Equal(t, []twofactor.Method{twofactor.MethodEmail, twofactor.MethodTOTP}, ch.Methods)
	assert.Equal(t, twofactor.PurposeLogin, ch.Purpose)
	assert.Equal(t, e.clock.Now().Add(defaultChallengeTTL), ch.ExpiresAt)
	require.NoError(t, twofactor.ParseChallengeID(ch.ID))

	sent, err := e.svc.Send(ctx, ch.ID, twofactor.MethodEmail, client)
	require.NoError(t, err)
	assert.Equal(t, "t***@example.com", sent.Destination)

	res, err := e.verify(ch, twofactor.MethodEmail, "123456")
	require.NoError(t, err)
	assert.Equal(t, alice, res.User)
	assert.Equal(t, twofactor.MethodEmail, res.Method)
	assert.Equal(t, "email-1", res.EnrollmentID)
	assert.Equal(t, e.clock.Now(), res.VerifiedAt)
	assert.Nil(t, res.Device, "no device remembered unless asked")
	p, err := e.svc.ParseProof(res.Proof)
	require.NoError(t, err)
	assert.Equal(t, twofactor.PurposeLogin, p.Purpose)

	succ := e.eventsOf(event.Success)
	require.Len(t, succ, 1)
	assert.Equal(t, "v", succ[0].Details["k"], "factor details reach the success event")
	assert.Len(t, e.eventsOf(event.Begin), 1)
	assert.Len(t, e.eventsOf(event.Send), 1)
}

func TestChallengeIsSingleUse(t *testing.T) {
	e := newEnv(t, nil)
	ch := e.begin()
	_, err := e.verify(ch, twofactor.MethodTOTP, "654321")
	require.NoError(t, err)
	before := e.app.verifies.Load()
	_, err = e.verify(ch, twofactor.MethodTOTP, "654321")
	require.ErrorIs(t, err, twofactor.ErrChallengeNotFound, "a verified challenge verified again")
	assert.Equal(t, before, e.app.verifies.Load(), "the factor was consulted for a finished challenge")
	fails := e.eventsOf(event.Failure)
	require.Len(t, fails, 1)
	assert.Equal(t, event.ReasonChallengeEnded, fails[0].Reason, "an ended challenge is no system error")
	_, err = e.svc.Send(ctx, ch.ID, twofactor.MethodEmail, client)
	require.ErrorIs(t, err, twofactor.ErrChallengeNotFound)
	assert.Empty(t, e.email.canceled, "a completed challenge's other codes expire with it, uncancelled")
}

func TestExpiredChallenge(t *testing.T) {
	e := newEnv(t, nil)
	ch := e.begin()
	e.clock.Advance(defaultChallengeTTL - time.Second)
	_, err := e.svc.Challenge(ctx, ch.ID)
	require.NoError(t, err, "challenge one second before expiry")
	e.clock.Advance(time.Second)
	_, err = e.verify(ch, twofactor.MethodTOTP, "654321")
	require.ErrorIs(t, err, twofactor.ErrChallengeNotFound, "an expired challenge verified")
	assert.Zero(t, e.app.verifies.Load(), "an expired challenge reached the factor")
}

// foreverStates keeps states forever, to prove the service checks
// expiry itself and does not rely on the store alone. Challenges are
// owned states (filed under their user), so both writes ignore expiry.
type foreverStates struct{ twofactor.Store }

func (f foreverStates) PutState(ctx context.Context, k string, v []byte, _ time.Time) error {
	return f.Store.PutState(ctx, k, v, time.Time{})
}

func (f foreverStates) PutOwnedState(ctx context.Context, o, k string, v []byte, _ time.Time) error {
	return f.Store.PutOwnedState(ctx, o, k, v, time.Time{})
}

// The service checks a challenge's expiry when it opens its id, whatever
// the store keeps: an expired challenge is not answerable, sendable or
// visible.
func TestExpiredChallengeInLaxStore(t *testing.T) {
	e := newEnv(t, func(c *twofactor.Config) { c.Store = foreverStates{c.Store} })
	ch := e.begin()
	e.clock.Advance(defaultChallengeTTL)
	_, err := e.verify(ch, twofactor.MethodTOTP, "654321")
	require.ErrorIs(t, err, twofactor.ErrChallengeNotFound)
	_, err = e.svc.Challenge(ctx, ch.ID)
	require.ErrorIs(t, err, twofactor.ErrChallengeNotFound)
	_, err = e.svc.Send(ctx, ch.ID, twofactor.MethodEmail, client)
	require.ErrorIs(t, err, twofactor.ErrChallengeNotFound)
	assert.Zero(t, e.app.verifies.Load(), "an expired challenge reached the factor")
}

func TestSixthWrongAnswerIsNotChecked(t *testing.T) {
	e := newEnv(t, nil)
	ch := e.begin()
	for i := 1; i <= 4; i++ {
		_, err := e.verify(ch, twofactor.MethodTOTP, wrongCode(i))
		require.ErrorIs(t, err, twofactor.ErrInvalidCode, "wrong answer %d", i)
	}
	_, err := e.verify(ch, twofactor.MethodTOTP, wrongCode(5))
	require.ErrorIs(t, err, twofactor.ErrTooManyAttempts, "fifth wrong answer ends the challenge")
	require.EqualValues(t, 5, e.app.verifies.Load())

	_, err = e.verify(ch, twofactor.MethodTOTP, "654321")
	require.Error(t, err, "the right answer after five wrong ones")
	assert.EqualValues(t, 5, e.app.verifies.Load(), "the sixth answer was checked")
	fails := e.eventsOf(event.Failure)
	require.Len(t, fails, 6)
	assert.Equal(t, event.ReasonInvalid, fails[4].Reason)
	assert.Equal(t, event.ReasonTooManyAttempts, fails[5].Reason, "the refused sixth answer is audited")

	_, err = e.svc.Send(ctx, ch.ID, twofactor.MethodEmail, client)
	require.ErrorIs(t, err, twofactor.ErrTooManyAttempts, "a spent challenge sends no new code")
}

// gateFactor blocks Verify of the right answer until released, to order
// concurrent requests deterministically.
type gateFactor struct {
	*codeFactor
	entered, release chan struct{}
}

func (g gateFactor) Verify(ctx context.Context, ch *twofactor.Challenge, answer string) (twofactor.Verified, error) {
	if answer == g.static {
		g.entered <- struct{}{}
		<-g.release
	}
	return g.codeFactor.Verify(ctx, ch, answer)
}

// A right answer already being checked completes even when wrong answers
// sent meanwhile spend the challenge, and the answers checked never exceed
// MaxAttempts however they interleave.
func TestAnswerInFlightSurvivesExhaustion(t *testing.T) {
	g := gateFactor{entered: make(chan struct{}), release: make(chan struct{})}
	e := newEnv(t, func(c *twofactor.Config) {
		g.codeFactor = &codeFactor{method: "gate", static: "777777", enrolled: map[string]bool{"alice": true}}
		c.Factors = append(c.Factors, factors(g)...)
	})
	ch := e.begin()
	done := make(chan error)
	go func() {
		_, err := e.verify(ch, "gate", "777777")
		done <- err
	}()
	<-g.entered // attempt 1 is inside the factor
	for i := 2; i <= 6; i++ {
		_, err := e.verify(ch, "gate", wrongCode(i))
		require.Error(t, err, "wrong answer %d", i)
		if i >= 5 {
			require.ErrorIs(t, err, twofactor.ErrTooManyAttempts, "answer %d", i)
		}
	}
	close(g.release)
	require.NoError(t, <-done, "the right answer in flight was lost to the exhaustion")
	assert.EqualValues(t, 5, g.verifies.Load(), "answers checked by the factor")
	_, err := e.verify(ch, "gate", "777777")
	require.Error(t, err, "the challenge is finished")
}

func TestAttemptsLimitUnderRace(t *testing.T) {
	e := newEnv(t, nil)
	ch := e.begin()
	var wg sync.WaitGroup
	for i := 0; i < 64; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = e.verify(ch, twofactor.MethodTOTP, wrongCode(i))
		}()
	}
	wg.Wait()
	assert.EqualValues(t, 5, e.app.verifies.Load(), "64 racing wrong answers: only MaxAttempts may be checked")
}

func TestConcurrentCorrectAnswersOneWinner(t *testing.T) {
	for _, method := range []twofactor.Method{twofactor.MethodEmail, twofactor.MethodTOTP} {
		t.Run(string(method), func(t *testing.T) {
			e := newEnv(t, func(c *twofactor.Config) { c.Limits.MaxAttempts = 100; c.Limits.MaxIPAttempts = 1 << 30 })
			code := map[twofactor.Method]string{twofactor.MethodEmail: "123456", twofactor.MethodTOTP: "654321"}[method]
			for round := 0; round < 30; round++ {
				ch := e.begin()
				if method == twofactor.MethodEmail {
					_, err := e.svc.Send(ctx, ch.ID, method, client)
					require.NoError(t, err)
				}
				var wins atomic.Int64
				var wg sync.WaitGroup
				gate := make(chan struct{})
				for i := 0; i < 64; i++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						<-gate
						if res, err := e.verify(ch, method, code); err == nil && res != nil {
							wins.Add(1)
						}
					}()
				}
				close(gate)
				wg.Wait()
				require.EqualValues(t, 1, wins.Load(), "round %d: %d successes", round, wins.Load())
			}
		})
	}
}

func TestExpiredCodeLooksWrongToUser(t *testing.T) {
	e := newEnv(t, func(c *twofactor.Config) { c.Limits.ChallengeTTL = time.Hour })
	ch := e.begin()
	_, err := e.svc.Send(ctx, ch.ID, twofactor.MethodEmail, client)
	require.NoError(t, err)
	e.clock.Advance(15 * time.Minute)
	_, err = e.verify(ch, twofactor.MethodEmail, "123456")
	require.ErrorIs(t, err, twofactor.ErrInvalidCode)
	assert.Equal(t, twofactor.ErrInvalidCode.Error(), err.Error(), "user-facing error must not say expired")
	assert.NotContains(t, strings.ToLower(err.Error()), "expired")
	fails := e.eventsOf(event.Failure)
	require.Len(t, fails, 1)
	assert.Equal(t, event.ReasonExpired, fails[0].Reason, "the event must say expired")

	_, err = e.verify(ch, twofactor.MethodEmail, "999999")
	require.ErrorIs(t, err, twofactor.ErrInvalidCode)
	assert.Equal(t, event.ReasonNoCode, e.eventsOf(event.Failure)[1].Reason, "the expired code is gone")
}

func TestUserLockoutAcrossChallenges(t *testing.T) {
	e := newEnv(t, nil)
	for i := 0; i < defaultMaxUserFailures; i++ {
		ch := e.begin()
		_, err := e.verify(ch, twofactor.MethodTOTP, "000000")
		require.ErrorIs(t, err, twofactor.ErrInvalidCode)
		e.clock.Advance(time.Second)
	}
	require.Len(t, e.eventsOf(event.Lockout), 1)

	_, err := e.svc.Begin(ctx, alice, client)
	require.ErrorIs(t, err, twofactor.ErrLocked)
	var re *twofactor.RetryError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, defaultLockoutDuration-10*time.Second, re.RetryAfter)
	assert.Equal(t, "user", re.Limit)

	e.clock.Advance(re.RetryAfter)
	ch := e.begin()
	_, err = e.verify(ch, twofactor.MethodTOTP, "654321")
	require.NoError(t, err, "lockout lifts when the window ends")
}

func TestLockedUserIsNotChecked(t *testing.T) {
	e := newEnv(t, func(c *twofactor.Config) { c.Limits.MaxUserFailures = 2 })
	ch1, ch2 := e.begin(), e.begin()
	_, err := e.verify(ch1, twofactor.MethodTOTP, wrongCode(1))
	require.ErrorIs(t, err, twofactor.ErrInvalidCode)
	_, err = e.verify(ch1, twofactor.MethodTOTP, wrongCode(2))
	require.ErrorIs(t, err, twofactor.ErrInvalidCode)
	n := e.app.verifies.Load()
	_, err = e.verify(ch2, twofactor.MethodTOTP, "654321")
	require.ErrorIs(t, err, twofactor.ErrLocked, "a challenge begun before the lockout")
	assert.Equal(t, n, e.app.verifies.Load(), "a locked user's answer reached the factor")
	_, err = e.svc.Send(ctx, ch2.ID, twofactor.MethodEmail, client)
	require.ErrorIs(t, err, twofactor.ErrLocked)

	require.NoError(t, e.svc.Unlock(ctx, "alice", "support@example.com"))
	_, err = e.verify(ch2, twofactor.MethodTOTP, "654321")
	require.NoError(t, err)
	adm := e.eventsOf(event.AdminAction)
	require.Len(t, adm, 1)
	assert.Equal(t, "support@example.com", adm[0].Actor)
}

func TestIPLimit(t *testing.T) {
	e := newEnv(t, func(c *twofactor.Config) { c.Limits.MaxIPAttempts = 3; c.Limits.MaxUserFailures = 100 })
	for i := 0; i < 3; i++ {
		ch := e.begin()
		_, err := e.verify(ch, twofactor.MethodTOTP, "000000")
		require.ErrorIs(t, err, twofactor.ErrInvalidCode)
	}
	ch := e.begin()
	n := e.app.verifies.Load()
	_, err := e.verify(ch, twofactor.MethodTOTP, "654321")
	require.ErrorIs(t, err, twofactor.ErrRateLimited)
	var re *twofactor.RetryError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, "ip", re.Limit)
	assert.Equal(t, n, e.app.verifies.Load(), "a rate-limited answer reached the factor")
	require.Len(t, e.eventsOf(event.RateLimited), 1)

	// Another client IP is not affected.
	other := client
	other.IP = netip.MustParseAddr("2001:db8::1")
	_, err = e.svc.Verify(ctx, twofactor.Answer{ChallengeID: ch.ID, Method: twofactor.MethodTOTP, Code: "654321", Client: other})
	require.NoError(t, err)
}

func TestPurposeAndUserBinding(t *testing.T) {
	e := newEnv(t, nil)
	step, err := e.svc.StepUp(ctx, alice, client, twofactor.PurposeStepUp)
	require.NoError(t, err)
	_, err = e.verify(step, twofactor.MethodTOTP, "654321") // verify() asks for login
	require.ErrorIs(t, err, twofactor.ErrChallengeNotFound, "a step-up challenge completed a login")

	_, err = e.svc.Verify(ctx, twofactor.Answer{ChallengeID: step.ID, Method: twofactor.MethodTOTP, Code: "654321", UserID: "mallory", Purpose: twofactor.PurposeStepUp})
	require.ErrorIs(t, err, twofactor.ErrChallengeNotFound, "a challenge completed for another user")

	login := e.begin()
	_, err = e.svc.Verify(ctx, twofactor.Answer{ChallengeID: login.ID, Method: twofactor.MethodTOTP, Code: "654321", Purpose: twofactor.PurposeStepUp})
	require.ErrorIs(t, err, twofactor.ErrChallengeNotFound, "a login challenge completed a step-up")
	assert.Zero(t, e.app.verifies.Load())

	res, err := e.svc.Verify(ctx, twofactor.Answer{ChallengeID: step.ID, Method: twofactor.MethodTOTP, Code: "654321", UserID: "alice", Purpose: twofactor.PurposeStepUp})
	require.NoError(t, err)
	assert.Equal(t, twofactor.PurposeStepUp, res.Purpose)

	_, err = e.svc.StepUp(ctx, alice, client, twofactor.PurposeLogin)
	require.ErrorIs(t, err, twofactor.ErrInvalidInput)
	_, err = e.svc.StepUp(ctx, twofactor.User{ID: "nobody"}, client, "")
	require.ErrorIs(t, err, twofactor.ErrNotEnrolled)
}

func TestMethodNotOffered(t *testing.T) {
	e := newEnv(t, func(c *twofactor.Config) { c.Policy.Methods = []twofactor.Method{twofactor.MethodTOTP} })
	ch := e.begin()
	assert.Equal(t, []twofactor.Method{twofactor.MethodTOTP}, ch.Methods, "policy filters methods")
	_, err := e.svc.Send(ctx, ch.ID, twofactor.MethodEmail, client)
	require.ErrorIs(t, err, twofactor.ErrMethodNotAllowed)
	_, err = e.verify(ch, twofactor.MethodEmail, "123456")
	require.ErrorIs(t, err, twofactor.ErrMethodNotAllowed)
	_, err = e.verify(ch, "carrier-pigeon", "123456")
	require.ErrorIs(t, err, twofactor.ErrMethodNotAllowed)
	_, err = e.svc.Send(ctx, ch.ID, twofactor.MethodTOTP, client)
	require.ErrorIs(t, err, twofactor.ErrMethodNotAllowed, "TOTP has no send step")
}

func TestBeginOutcomes(t *testing.T) {
	e := newEnv(t, nil)
	trusted := client
	trusted.DeviceToken = "good"
	b, err := e.svc.Begin(ctx, alice, trusted)
	require.NoError(t, err)
	assert.Equal(t, twofactor.StatusTrusted, b.Status)
	assert.Nil(t, b.Challenge)
	assert.Len(t, e.eventsOf(event.Trusted), 1)

	s, err := e.svc.StepUp(ctx, alice, trusted, "")
	require.NoError(t, err, "trusted devices never skip step-up")
	assert.Equal(t, twofactor.PurposeStepUp, s.Purpose)

	b, err = e.svc.Begin(ctx, twofactor.User{ID: "bob"}, client)
	require.NoError(t, err)
	assert.Equal(t, twofactor.StatusNoFactor, b.Status)

	e2 := newEnv(t, func(c *twofactor.Config) { c.Policy.Required = true })
	b, err = e2.svc.Begin(ctx, twofactor.User{ID: "bob"}, client)
	require.NoError(t, err)
	assert.Equal(t, twofactor.StatusEnrollRequired, b.Status)

	_, err = e.svc.Begin(ctx, twofactor.User{}, client)
	require.ErrorIs(t, err, twofactor.ErrInvalidInput)
	_, err = e.svc.Begin(ctx, twofactor.User{ID: strings.Repeat("x", 256)}, client)
	require.ErrorIs(t, err, twofactor.ErrInvalidInput)

	e.trust.err = errBoom
	_, err = e.svc.Begin(ctx, alice, trusted)
	require.ErrorIs(t, err, errBoom, "a trust-store failure must not be read as trusted")
}

func TestRememberDevice(t *testing.T) {
	e := newEnv(t, nil)
	ch := e.begin()
	res, err := e.svc.Verify(ctx, twofactor.Answer{ChallengeID: ch.ID, Method: twofactor.MethodTOTP, Code: "654321", Client: client, RememberDevice: true})
	require.NoError(t, err)
	require.NotNil(t, res.Device)
	assert.Equal(t, "good", res.Device.Token)

	step, err := e.svc.StepUp(ctx, alice, client, "")
	require.NoError(t, err)
	res, err = e.svc.Verify(ctx, twofactor.Answer{ChallengeID: step.ID, Method: twofactor.MethodTOTP, Code: "654321", Purpose: twofactor.PurposeStepUp, RememberDevice: true})
	require.NoError(t, err)
	assert.Nil(t, res.Device, "a step-up never remembers a device")
}

func TestCancel(t *testing.T) {
	e := newEnv(t, nil)
	ch := e.begin()
	_, err := e.svc.Send(ctx, ch.ID, twofactor.MethodEmail, client)
	require.NoError(t, err)
	require.NoError(t, e.svc.Cancel(ctx, ch.ID))
	assert.Contains(t, e.email.canceled, ch.ID)
	st, err := e.mem.ConsumeCode(ctx, ch.ID, "email", e.keys.Hash("test", []byte(ch.ID+"123456")))
	require.NoError(t, err)
	assert.Equal(t, store.CodeNotFound, st, "a code of a cancelled challenge still exists")
	_, err = e.verify(ch, twofactor.MethodEmail, "123456")
	require.ErrorIs(t, err, twofactor.ErrChallengeNotFound)
	require.ErrorIs(t, e.svc.Cancel(ctx, ch.ID), twofactor.ErrChallengeNotFound)
	require.ErrorIs(t, e.svc.Cancel(ctx, "not-an-id"), twofactor.ErrChallengeNotFound)
	assert.Len(t, e.eventsOf(event.Cancel), 1)
}

func TestBadInputChangesNothing(t *testing.T) {
	var fs *storespy.Spy
	e := newEnv(t, func(c *twofactor.Config) { fs = storespy.New(c.Store.(store.Store)); c.Store = fs })
	ch := e.begin()
	calls := fs.Calls.Load()
	for _, a := range []twofactor.Answer{
		{ChallengeID: "", Method: twofactor.MethodTOTP, Code: "1"},
		{ChallengeID: "short", Method: twofactor.MethodTOTP, Code: "1"},
		{ChallengeID: ch.ID[:42] + "!", Method: twofactor.MethodTOTP, Code: "1"},
		{ChallengeID: ch.ID[:42] + "B" + ch.ID[43:], Method: twofactor.MethodTOTP, Code: "1"}, // non-canonical base64url
		{ChallengeID: ch.ID[:len(ch.ID)-3] + "AAA", Method: twofactor.MethodTOTP, Code: "1"},  // sealed part altered
		{ChallengeID: ch.Key(), Method: twofactor.MethodTOTP, Code: "1"},                      // the key alone
		{ChallengeID: ch.ID, Method: twofactor.MethodTOTP, Code: ""},
		{ChallengeID: ch.ID, Method: twofactor.MethodTOTP, Code: strings.Repeat("9", 20000)},
	} {
		_, err := e.svc.Verify(ctx, a)
		require.Error(t, err)
		assert.True(t, errors.Is(err, twofactor.ErrChallengeNotFound) || errors.Is(err, twofactor.ErrInvalidCode), "%v", err)
	}
	assert.Equal(t, calls, fs.Calls.Load(), "malformed input reached the store")
	assert.Zero(t, e.app.verifies.Load())
}

func TestStoreFailuresFailClosed(t *testing.T) {
	// The completion alone: rules_test.go.
	ops := []string{"RunBatch", "GetState", "Incr", "Peek"}
	for _, op := range ops {
		t.Run(op, func(t *testing.T) {
			var fs *storespy.Spy
			e := newEnv(t, func(c *twofactor.Config) { fs = storespy.New(c.Store.(store.Store)); c.Store = fs })
			ch := e.begin() // works: nothing fails yet
			fs.Fail(op, errBoom)

			b, err := e.svc.Begin(ctx, alice, client)
			if op == "RunBatch" || op == "Peek" {
				require.ErrorIs(t, err, errBoom, "Begin")
				assert.Nil(t, b)
			}
			if op != "Incr" {
				_, err := e.svc.Send(ctx, ch.ID, twofactor.MethodEmail, client)
				require.ErrorIs(t, err, errBoom, "Send")
			}
			if op == "Peek" {
				return // Verify counts the lockout itself
			}
			res, err := e.verify(ch, twofactor.MethodTOTP, "654321")
			require.Error(t, err, "Verify with %s failing let the user in", op)
			assert.Nil(t, res)
			assert.ErrorIs(t, err, errBoom)
			assert.False(t, errors.Is(err, twofactor.ErrInvalidCode), "a store failure must not look like a wrong code")
		})
	}
	t.Run("factor store", func(t *testing.T) {
		e := newEnv(t, nil)
		ch := e.begin()
		_, err := e.svc.Send(ctx, ch.ID, twofactor.MethodEmail, client)
		require.NoError(t, err)
		e.email.codes = brokenCodes{}
		res, err := e.verify(ch, twofactor.MethodEmail, "123456")
		require.ErrorIs(t, err, errBoom)
		assert.Nil(t, res)
		assert.Equal(t, event.ReasonError, e.eventsOf(event.Failure)[0].Reason)
		_, err = e.svc.Send(ctx, ch.ID, twofactor.MethodEmail, client)
		require.ErrorIs(t, err, errBoom, "Send")
		assert.Len(t, e.eventsOf(event.SendFailed), 1)
	})
	t.Run("everything", func(t *testing.T) {
		var fs *storespy.Spy
		e := newEnv(t, func(c *twofactor.Config) { fs = storespy.New(c.Store.(store.Store)); c.Store = fs })
		ch := e.begin()
		fs.Fail("*", errBoom)
		for _, f := range []func() error{
			func() error { _, err := e.svc.Begin(ctx, alice, client); return err },
			func() error { _, err := e.svc.StepUp(ctx, alice, client, ""); return err },
			func() error { _, err := e.svc.Send(ctx, ch.ID, twofactor.MethodEmail, client); return err },
			func() error { _, err := e.verify(ch, twofactor.MethodTOTP, "654321"); return err },
			func() error { return e.svc.Cancel(ctx, ch.ID) },
		} {
			require.ErrorIs(t, f(), errBoom)
		}
	})
}

type brokenCodes struct{}

func (brokenCodes) PutCode(context.Context, store.Code) error { return errBoom }
func (brokenCodes) ConsumeCode(context.Context, string, string, []byte) (store.CodeStatus, error) {
	return store.CodeMatched, errBoom // a status with an error must never count
}
func (brokenCodes) DeleteCode(context.Context, string, string) error { return errBoom }

func TestEventsCarryNoCode(t *testing.T) {
	var logs bytes.Buffer
	var hooked []event.Event
	e2 := newEnv(t, func(c *twofactor.Config) {
		c.Events = &event.Sink{
			Logger: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
			Hook:   func(_ context.Context, ev event.Event) { hooked = append(hooked, ev) },
		}
	})
	ch := e2.begin()
	_, err := e2.svc.Send(ctx, ch.ID, twofactor.MethodEmail, client)
	require.NoError(t, err)
	_, err = e2.verify(ch, twofactor.MethodEmail, "999999")
	require.ErrorIs(t, err, twofactor.ErrInvalidCode)
	_, err = e2.verify(ch, twofactor.MethodEmail, "123456")
	require.NoError(t, err)
	ch2 := e2.begin()
	_, err = e2.verify(ch2, twofactor.MethodTOTP, "654321")
	require.NoError(t, err)

	require.NotEmpty(t, hooked)
	all, err := json.Marshal(hooked)
	require.NoError(t, err)
	for _, secret := range []string{"123456", "999999", "654321"} {
		assert.NotContains(t, string(all), secret, "an event carries a code")
		assert.NotContains(t, logs.String(), secret, "a log line carries a code")
	}
	assert.Contains(t, logs.String(), `"event":"verify.success"`)
	assert.Contains(t, logs.String(), `"reason":"invalid"`)
}

// reasonedErr is a factor error carrying its own failure reason.
type reasonedErr struct{}

func (reasonedErr) Error() string               { return "custom factor: token revoked" }
func (reasonedErr) Unwrap() error               { return twofactor.ErrInvalidCode }
func (reasonedErr) FailureReason() event.Reason { return "token_revoked" }

type reasonFactor struct{ *codeFactor }

func (reasonFactor) Verify(context.Context, *twofactor.Challenge, string) (twofactor.Verified, error) {
	return twofactor.Verified{}, fmt.Errorf("wrapped: %w", reasonedErr{})
}

// A factor's own failure reason reaches the event; the user still gets
// plain ErrInvalidCode.
func TestFactorFailureReason(t *testing.T) {
	e := newEnv(t, func(c *twofactor.Config) {
		c.Factors = factors(reasonFactor{&codeFactor{method: "hw", enrolled: map[string]bool{"alice": true}}})
	})
	ch := e.begin()
	_, err := e.verify(ch, "hw", "123456")
	require.ErrorIs(t, err, twofactor.ErrInvalidCode)
	assert.Equal(t, twofactor.ErrInvalidCode.Error(), err.Error(), "the user sees the plain error")
	fails := e.eventsOf(event.Failure)
	require.Len(t, fails, 1)
	assert.Equal(t, event.Reason("token_revoked"), fails[0].Reason)
}

// The order of methods is decided once: the policy's default first, then
// the order of Config.Factors, without the methods the policy does not
// allow.
func TestMethodsOrder(t *testing.T) {
	keys := newKeys(t)
	fs := factors(&codeFactor{method: "a"}, &codeFactor{method: "b"}, &codeFactor{method: "c"})
	svc, err := twofactor.New(twofactor.Config{Store: store.NewMemory(), Keys: keys, Factors: fs})
	require.NoError(t, err)
	assert.Equal(t, []twofactor.Method{"a", "b", "c"}, svc.Methods())
	svc, err = twofactor.New(twofactor.Config{Store: store.NewMemory(), Keys: keys, Factors: fs,
		Policy: twofactor.Policy{Methods: []twofactor.Method{"a", "c"}, Default: "c"}})
	require.NoError(t, err)
	assert.Equal(t, []twofactor.Method{"c", "a"}, svc.Methods())
}
