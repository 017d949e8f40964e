package backupcodes_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/backupcodes"
	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/internal/storespy"
	"github.com/twofactorkit/twofactor/keyring"
	"github.com/twofactorkit/twofactor/store"
)

var ctx = context.Background()

func TestNewConfig(t *testing.T) {
	env := twofactor.Env{Store: store.NewMemory(), Keys: newKeyring(t, newKey(t, "k1"))}
	tests := []struct {
		name string
		cfg  backupcodes.Config
		want string // in the error; "" means valid
	}{
		{"defaults", backupcodes.Config{}, ""},
		{"eight codes", backupcodes.Config{Count: 8}, ""},
		{"two groups of five", backupcodes.Config{Groups: 2, GroupSize: 5}, ""},
		{"one hundred codes", backupcodes.Config{Count: 100}, ""},
		{"negative count", backupcodes.Config{Count: -1}, "Count -1"},
		{"too many codes", backupcodes.Config{Count: 101}, "Count 101"},
		{"too little entropy", backupcodes.Config{Groups: 3, GroupSize: 3}, "45 bits"},
		{"too long", backupcodes.Config{Groups: 8, GroupSize: 5}, "longer than 32"},
		{"negative groups", backupcodes.Config{Groups: -3}, "must not be negative"},
		{"negative ttl", backupcodes.Config{RecoveryTTL: -time.Hour}, "RecoveryTTL"},
		{"ttl too long", backupcodes.Config{RecoveryTTL: 8 * 24 * time.Hour}, "RecoveryTTL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := backupcodes.New(env, tt.cfg)
			if tt.want == "" {
				require.NoError(t, err)
				require.NotNil(t, f)
				return
			}
			require.ErrorIs(t, err, twofactor.ErrConfig)
			assert.True(t, strings.HasPrefix(err.Error(), "backupcodes: "), err.Error())
			assert.Contains(t, err.Error(), tt.want)
			assert.Nil(t, f)
		})
	}
}

var codeRE = regexp.MustCompile(`^[` + backupcodes.Alphabet + `]{4}-[` + backupcodes.Alphabet + `]{4}-[` + backupcodes.Alphabet + `]{4}$`)

func TestBeginEnroll(t *testing.T) {
	e := newEnv(t, nil)
	u := user("alice")
	codes, err := enroll(ctx, e.f, u)
	require.NoError(t, err)
	require.Len(t, codes, backupcodes.DefaultCount)
	for _, c := range codes {
		assert.Regexp(t, codeRE, c)
	}
	assert.Len(t, slices.Compact(slices.Sorted(slices.Values(codes))), len(codes), "codes are distinct")
	n, err := e.f.Remaining(ctx, u)
	require.NoError(t, err)
	assert.Equal(t, 10, n)

	ens, err := e.f.Enrollments(ctx, u)
	require.NoError(t, err)
	require.Len(t, ens, 1)
	assert.Equal(t, backupcodes.EnrollmentBackupCodes, ens[0].ID)
	assert.Equal(t, twofactor.MethodBackupCode, ens[0].Method)
	assert.Equal(t, "Backup codes (10 left)", ens[0].Label)
	assert.Equal(t, t0, ens[0].CreatedAt)
	assert.True(t, ens[0].LastUsedAt.IsZero())

	_, err = e.f.ConfirmEnroll(ctx, u, codes[0])
	require.ErrorIs(t, err, twofactor.ErrNotEnrolled, "nothing to confirm")

	e.clock.Advance(time.Hour)
	v, err := e.f.Verify(ctx, challenge(u), codes[0])
	require.NoError(t, err, "active at once")
	assert.True(t, v.RecordUse, "the Service records the use")
	assert.Equal(t, backupcodes.EnrollmentBackupCodes, v.EnrollmentID)
	ens, err = e.f.Enrollments(ctx, u)
	require.NoError(t, err)
	require.Len(t, ens, 1)
	assert.Equal(t, t0, ens[0].CreatedAt)

	t.Run("again replaces the set", func(t *testing.T) {
		e.clock.Advance(time.Hour)
		again, err := enroll(ctx, e.f, u)
		require.NoError(t, err)
		require.Len(t, again, backupcodes.DefaultCount)
		for _, c := range codes[1:] {
			_, err = e.f.Verify(ctx, challenge(u), c)
			require.ErrorIs(t, err, twofactor.ErrInvalidCode, "every old code died")
			assert.NotContains(t, again, c)
		}
		ens, err := e.f.Enrollments(ctx, u)
		require.NoError(t, err)
		require.Len(t, ens, 1)
		assert.Equal(t, "Backup codes (10 left)", ens[0].Label)
		assert.Equal(t, t0.Add(2*time.Hour), ens[0].CreatedAt, "a new set")
		assert.True(t, ens[0].LastUsedAt.IsZero())
		enrolls := e.log.OfType(event.Enroll)
		require.Len(t, enrolls, 2)
		assert.Equal(t, event.ActionBackupCodesCreated, enrolls[0].Action)
		assert.Equal(t, event.ActionBackupCodesReplaced, enrolls[1].Action)
		assert.Equal(t, backupcodes.DefaultCount, enrolls[1].Count)
		assert.Empty(t, enrolls[1].Details)
	})

	t.Run("count configurable", func(t *testing.T) {
		e := newEnv(t, func(c *backupcodes.Config, _ *twofactor.Env) { c.Count = 8 })
		codes, err := enroll(ctx, e.f, user("bob"))
		require.NoError(t, err)
		assert.Len(t, codes, 8)
		n, err := e.f.Remaining(ctx, user("bob"))
		require.NoError(t, err)
		assert.Equal(t, 8, n)
	})

	t.Run("layout configurable", func(t *testing.T) {
		e := newEnv(t, func(c *backupcodes.Config, _ *twofactor.Env) { c.Groups, c.GroupSize = 2, 5 })
		codes, err := enroll(ctx, e.f, user("bob"))
		require.NoError(t, err)
		assert.Regexp(t, `^[`+backupcodes.Alphabet+`]{5}-[`+backupcodes.Alphabet+`]{5}$`, codes[0])
		_, err = e.f.Verify(ctx, challenge(user("bob")), codes[0])
		require.NoError(t, err)
	})

	t.Run("no user", func(t *testing.T) {
		_, err := enroll(ctx, e.f, twofactor.User{})
		require.ErrorIs(t, err, twofactor.ErrInvalidInput)
		_, err = e.f.Remaining(ctx, twofactor.User{ID: strings.Repeat("x", 256)})
		require.ErrorIs(t, err, twofactor.ErrInvalidInput)
	})
}

func TestSingleUse(t *testing.T) {
	e := newEnv(t, nil)
	u := user("alice")
	codes, err := enroll(ctx, e.f, u)
	require.NoError(t, err)

	v, err := e.f.Verify(ctx, challenge(u), codes[3])
	require.NoError(t, err)
	assert.Equal(t, backupcodes.EnrollmentBackupCodes, v.EnrollmentID)
	assert.Empty(t, v.Details)
	assert.Equal(t, 9, v.Count, "the codes left, typed")

	for _, form := range []string{codes[3], strings.ToUpper(codes[3]), strings.ReplaceAll(codes[3], "-", "")} {
		_, err = e.f.Verify(ctx, challenge(u), form)
		require.ErrorIs(t, err, twofactor.ErrInvalidCode, "a used code never works again, in any spelling")
	}
	n, err := e.f.Remaining(ctx, u)
	require.NoError(t, err)
	assert.Equal(t, 9, n)

	t.Run("other user's code", func(t *testing.T) {
		_, err := e.f.Verify(ctx, challenge(user("mallory")), codes[4])
		require.ErrorIs(t, err, twofactor.ErrInvalidCode)
		_, err = e.f.Verify(ctx, challenge(u), codes[4])
		require.NoError(t, err, "the failed attempt by another user did not consume it")
	})

	t.Run("wrong code", func(t *testing.T) {
		_, err := e.f.Verify(ctx, challenge(u), "0000-0000-0000")
		require.ErrorIs(t, err, twofactor.ErrInvalidCode)
		n, err := e.f.Remaining(ctx, u)
		require.NoError(t, err)
		assert.Equal(t, 8, n)
	})
}

func TestNormalization(t *testing.T) {
	const canonical = "0v1k7qm3xt9f"
	accept := []struct{ name, input string }{
		{"as shown", "0v1k-7qm3-xt9f"},
		{"upper case", "0V1K-7QM3-XT9F"},
		{"mixed case", "0v1K-7Qm3-xT9f"},
		{"no dashes", "0v1k7qm3xt9f"},
		{"spaces", "0v1k 7qm3 xt9f"},
		{"surrounding space", "  0v1k-7qm3-xt9f\n"},
		{"tabs and newlines", "0v1k\t7qm3\r\nxt9f"},
		{"odd grouping", "0v 1k7-qm3x-t9 f"},
		{"double dashes", "0v1k--7qm3--xt9f"},
		{"en and em dash", "0v1k\u20137qm3\u2014xt9f"},
		{"minus sign", "0v1k\u22127qm3\u2212xt9f"},
		{"no-break space", "0v1k\u00a07qm3\u00a0xt9f"},
		{"zero-width space", "\ufeff0v1k\u200b7qm3-xt9f"},
		{"o for zero", "ov1k-7qm3-xt9f"},
		{"O for zero", "OV1K-7QM3-XT9F"},
		{"i for one", "0vik-7qm3-xt9f"},
		{"l for one", "0vlk-7qm3-xt9f"},
		{"L for one", "0VLK-7QM3-XT9F"},
		{"u for v", "0u1k-7qm3-xt9f"},
		{"U for v", "0U1K-7QM3-XT9F"},
	}
	for _, tt := range accept {
		t.Run("accept/"+tt.name, func(t *testing.T) {
			e := newEnv(t, func(c *backupcodes.Config, env *twofactor.Env) { c.Count = 1; env.Rand = fixedRand(canonical) })
			u := user("alice")
			codes, err := enroll(ctx, e.f, u)
			require.NoError(t, err)
			require.Equal(t, []string{"0v1k-7qm3-xt9f"}, codes)
			require.NoError(t, e.f.CheckAnswer(tt.input))
			_, err = e.f.Verify(ctx, challenge(u), tt.input)
			require.NoError(t, err)
		})
	}

	reject := []struct{ name, input string }{
		{"empty", ""},
		{"only dashes", "----"},
		{"too short", "0v1k-7qm3-xt9"},
		{"between lengths", "0v1k-7qm3-xt9f-0"},
		{"too long", "0v1k-7qm3-xt9f-0v1k-7"},
		{"punctuation", "0v1k.7qm3.xt9f"},
		{"symbol", "0v1k-7qm3-xt9!"},
		{"accented letter", "0v1k-7qm3-xt9é"},
		{"full-width digit", "０v1k-7qm3-xt9f"},
		{"NUL byte", "0v1k-7qm3-xt9\x00"},
		{"invalid UTF-8", "0v1k-7qm3-xt9\xff"},
		{"huge", strings.Repeat("0v1k-", 100)},
	}
	for _, tt := range reject {
		t.Run("reject/"+tt.name, func(t *testing.T) {
			e := newEnv(t, func(c *backupcodes.Config, env *twofactor.Env) { c.Count = 1; env.Rand = fixedRand(canonical) })
			u := user("alice")
			_, err := enroll(ctx, e.f, u)
			require.NoError(t, err)
			before := e.store.reads.Load()

			err = e.f.CheckAnswer(tt.input)
			require.ErrorIs(t, err, twofactor.ErrInvalidInput)
			assert.True(t, strings.HasPrefix(err.Error(), "backupcodes: "), err.Error())
			if len(tt.input) > 3 {
				assert.NotContains(t, err.Error(), tt.input[:4], "the error does not echo the input")
			}
			_, err = e.f.Verify(ctx, challenge(u), tt.input)
			require.ErrorIs(t, err, twofactor.ErrInvalidCode)
			assert.Equal(t, before, e.store.reads.Load(), "malformed input costs no store access")

			_, err = e.f.Verify(ctx, challenge(u), "0v1k-7qm3-xt9f")
			require.NoError(t, err, "the code is still there")
		})
	}
}

func TestRace(t *testing.T) {
	const goroutines, rounds = 64, 20
	e := newEnv(t, func(c *backupcodes.Config, _ *twofactor.Env) { c.Count = 2 })
	for round := range rounds {
		u := user("racer-" + string(rune('a'+round)))
		codes, err := enroll(ctx, e.f, u)
		require.NoError(t, err)
		recovery, _, err := e.f.IssueRecoveryCode(ctx, u, "admin@example.com")
		require.NoError(t, err)
		for _, code := range []string{codes[0], recovery} {
			var wins, invalid atomic.Int64
			var wg sync.WaitGroup
			start := make(chan struct{})
			for range goroutines {
				wg.Go(func() {
					<-start
					_, err := e.f.Verify(ctx, challenge(u), code)
					switch {
					case err == nil:
						wins.Add(1)
					case errors.Is(err, twofactor.ErrInvalidCode):
						invalid.Add(1)
					}
				})
			}
			close(start)
			wg.Wait()
			require.Equal(t, int64(1), wins.Load(), "round %d: exactly one success", round)
			require.Equal(t, int64(goroutines-1), invalid.Load(), "round %d: every other attempt is an invalid code", round)
		}
		n, err := e.f.Remaining(ctx, u)
		require.NoError(t, err)
		require.Equal(t, 1, n, "only the raced code was used")
	}
}

// TestNewSetNeedsProof: through the Service, a user who has a factor
// (backup codes included) gets a new set only with a fresh step-up proof.
func TestNewSetNeedsProof(t *testing.T) {
	h := newServiceEnv(t, nil)
	alice := user("alice")
	old, err := enroll(ctx, h.f, alice)
	require.NoError(t, err)

	fresh := h.proof(t, alice)
	newSet := func(proof string) (*twofactor.Enrolling, error) {
		return h.svc.BeginEnroll(ctx, alice, twofactor.MethodBackupCode, twofactor.EnrollRequest{}, proof)
	}
	unchanged := func(t *testing.T) {
		t.Helper()
		n, err := h.f.Remaining(ctx, alice)
		require.NoError(t, err)
		require.Equal(t, 10, n, "the old set is untouched")
	}
	for _, tt := range []struct{ name, proof string }{
		{"no proof", ""},
		{"garbage", "not.a.proof"},
		{"forged", fresh[:len(fresh)-4] + "AAAA"},
		{"another user's", h.proof(t, user("bob"))},
	} {
		t.Run(tt.name, func(t *testing.T) {
			en, err := newSet(tt.proof)
			require.ErrorIs(t, err, twofactor.ErrStepUpRequired)
			assert.Nil(t, en)
			unchanged(t)
		})
	}

	t.Run("stale proof", func(t *testing.T) {
		stale := h.proof(t, alice)
		h.clock.Advance((5 * time.Minute) + time.Second)
		en, err := newSet(stale)
		require.ErrorIs(t, err, twofactor.ErrStepUpRequired)
		assert.Nil(t, en)
		unchanged(t)
	})

	t.Run("fresh proof replaces the set", func(t *testing.T) {
		en, err := newSet(h.proof(t, alice))
		require.NoError(t, err)
		codes := en.Codes
		require.Len(t, codes, 10)
		for _, c := range old {
			_, err := h.f.Verify(ctx, challenge(alice), c)
			require.ErrorIs(t, err, twofactor.ErrInvalidCode, "every old code died at once")
			assert.NotContains(t, codes, c)
		}
		for _, c := range codes {
			_, err := h.f.Verify(ctx, challenge(alice), c)
			require.NoError(t, err)
		}
		enrolls := h.log.OfType(event.Enroll)
		require.NotEmpty(t, enrolls)
		last := enrolls[len(enrolls)-1]
		assert.Equal(t, event.ActionBackupCodesReplaced, last.Action)
		assert.Equal(t, 10, last.Count)
		assert.Equal(t, twofactor.MethodBackupCode, last.Method)
		assert.Empty(t, last.Details)
	})

	t.Run("a user without any factor needs none", func(t *testing.T) {
		en, err := h.svc.BeginEnroll(ctx, user("carol"), twofactor.MethodBackupCode, twofactor.EnrollRequest{}, "")
		require.NoError(t, err)
		assert.Len(t, en.Codes, 10)
	})
}

func TestRecoveryCode(t *testing.T) {
	e := newEnv(t, nil)
	u := user("locked-out")

	t.Run("needs an actor", func(t *testing.T) {
		for _, actor := range []string{"", "   "} {
			code, exp, err := e.f.IssueRecoveryCode(ctx, u, actor)
			require.ErrorIs(t, err, twofactor.ErrInvalidInput)
			assert.Empty(t, code)
			assert.True(t, exp.IsZero())
		}
		ens, err := e.f.Enrollments(ctx, u)
		require.NoError(t, err)
		assert.Empty(t, ens, "nothing was stored")
		assert.Empty(t, e.log.All(), "nothing was audited")
	})

	code, exp, err := e.f.IssueRecoveryCode(ctx, u, "support:jane")
	require.NoError(t, err)
	assert.Regexp(t, `^([`+backupcodes.Alphabet+`]{4}-){3}[`+backupcodes.Alphabet+`]{4}$`, code)
	assert.Equal(t, t0.Add(backupcodes.DefaultRecoveryTTL), exp)

	issued := e.log.OfType(event.AdminAction)
	require.Len(t, issued, 1)
	assert.Equal(t, "support:jane", issued[0].Actor)
	assert.Equal(t, u.ID, issued[0].UserID)
	assert.Equal(t, event.ActionRecoveryCodeIssued, issued[0].Action)
	assert.Equal(t, exp, issued[0].Until, "when the code expires")
	assert.Empty(t, issued[0].Details)

	ens, err := e.f.Enrollments(ctx, u)
	require.NoError(t, err)
	require.Len(t, ens, 1, "an outstanding recovery code makes the factor offered")
	assert.Equal(t, backupcodes.EnrollmentRecoveryCode, ens[0].ID)
	assert.Equal(t, t0, ens[0].CreatedAt, "when it was issued")

	e.clock.Advance(backupcodes.DefaultRecoveryTTL - time.Second)
	v, err := e.f.Verify(ctx, challenge(u), strings.ToUpper(code))
	require.NoError(t, err)
	assert.Equal(t, backupcodes.EnrollmentRecoveryCode, v.EnrollmentID)
	assert.Equal(t, backupcodes.EnrollmentRecoveryCode, v.EnrollmentID)
	used := e.log.OfType(backupcodes.EventRecoveryUsed)
	require.Len(t, used, 1)
	assert.Equal(t, u.ID, used[0].UserID)
	assert.Equal(t, "ch-"+u.ID, used[0].ChallengeID)

	_, err = e.f.Verify(ctx, challenge(u), code)
	require.ErrorIs(t, err, twofactor.ErrInvalidCode, "single use")
	ens, err = e.f.Enrollments(ctx, u)
	require.NoError(t, err)
	assert.Empty(t, ens)

	t.Run("expires", func(t *testing.T) {
		e := newEnv(t, func(c *backupcodes.Config, _ *twofactor.Env) { c.RecoveryTTL = time.Hour })
		code, exp, err := e.f.IssueRecoveryCode(ctx, u, "support:jane")
		require.NoError(t, err)
		assert.Equal(t, t0.Add(time.Hour), exp)
		e.clock.Advance(time.Hour)
		ens, err := e.f.Enrollments(ctx, u)
		require.NoError(t, err)
		assert.Empty(t, ens, "an expired code is not offered")
		_, err = e.f.Verify(ctx, challenge(u), code)
		require.ErrorIs(t, err, twofactor.ErrCodeExpired)
		require.ErrorIs(t, err, twofactor.ErrInvalidCode)
		assert.Empty(t, e.log.OfType(backupcodes.EventRecoveryUsed))
	})

	t.Run("a new code replaces the previous one", func(t *testing.T) {
		first, _, err := e.f.IssueRecoveryCode(ctx, u, "support:jane")
		require.NoError(t, err)
		second, _, err := e.f.IssueRecoveryCode(ctx, u, "support:joe")
		require.NoError(t, err)
		_, err = e.f.Verify(ctx, challenge(u), first)
		require.ErrorIs(t, err, twofactor.ErrInvalidCode)
		_, err = e.f.Verify(ctx, challenge(u), second)
		require.NoError(t, err)
	})

	t.Run("bound to its user and kind", func(t *testing.T) {
		code, _, err := e.f.IssueRecoveryCode(ctx, u, "support:jane")
		require.NoError(t, err)
		_, err = e.f.Verify(ctx, challenge(user("someone-else")), code)
		require.ErrorIs(t, err, twofactor.ErrInvalidCode)
		// The first three groups are not a backup code of the user.
		_, err = e.f.Verify(ctx, challenge(u), code[:14])
		require.ErrorIs(t, err, twofactor.ErrInvalidCode)
		_, err = e.f.Verify(ctx, challenge(u), code)
		require.NoError(t, err)
	})
}

func TestNoPlainCodeInStore(t *testing.T) {
	h := newServiceEnv(t, nil)
	alice, bob := user("alice"), user("bob")
	var plain []string

	codes, err := enroll(ctx, h.f, bob)
	require.NoError(t, err)
	plain = append(plain, codes...)
	codes, err = enroll(ctx, h.f, alice)
	require.NoError(t, err)
	plain = append(plain, codes...)

	// Sign in with a backup code, with a wrong one first.
	begun, err := h.svc.Begin(ctx, alice, twofactor.Client{})
	require.NoError(t, err)
	_, err = h.svc.Verify(ctx, twofactor.Answer{ChallengeID: begun.Challenge.ID, Method: twofactor.MethodBackupCode, Code: "zzzz-zzzz-zzzz"})
	require.ErrorIs(t, err, twofactor.ErrInvalidCode)
	res, err := h.svc.Verify(ctx, twofactor.Answer{ChallengeID: begun.Challenge.ID, Method: twofactor.MethodBackupCode, Code: codes[0]})
	require.NoError(t, err)

	require.NotEmpty(t, res.Proof)
	// Regenerating needs a step-up, here with another backup code.
	step, err := h.svc.StepUp(ctx, alice, twofactor.Client{}, twofactor.PurposeStepUp)
	require.NoError(t, err)
	res, err = h.svc.Verify(ctx, twofactor.Answer{ChallengeID: step.ID, Method: twofactor.MethodBackupCode, Code: codes[1], Purpose: twofactor.PurposeStepUp})
	require.NoError(t, err)
	en, err := h.svc.BeginEnroll(ctx, alice, twofactor.MethodBackupCode, twofactor.EnrollRequest{}, res.Proof)
	require.NoError(t, err)
	regenerated := en.Codes
	plain = append(plain, regenerated...)
	recovery, _, err := h.f.IssueRecoveryCode(ctx, alice, "support:jane")
	require.NoError(t, err)
	plain = append(plain, recovery)
	_, err = h.f.Verify(ctx, challenge(alice), recovery)
	require.NoError(t, err)
	_, err = h.f.Verify(ctx, challenge(alice), regenerated[1])
	require.NoError(t, err)

	dump := h.store.dump()
	require.Contains(t, dump, "backup:alice", "the recording sees the writes")
	require.Contains(t, dump, "recovery:alice")
	var logged strings.Builder
	for _, ev := range h.log.All() {
		fmt.Fprintf(&logged, "%+v\n", ev)
	}
	require.Contains(t, logged.String(), string(event.Success))
	for _, c := range plain {
		for _, form := range codeForms(c) {
			assert.NotContains(t, dump, form, "store")
			assert.NotContains(t, logged.String(), form, "events")
		}
	}
}

func TestEvents(t *testing.T) {
	e := newEnv(t, func(c *backupcodes.Config, _ *twofactor.Env) { c.Count = 5 })
	u := user("alice")
	codes, err := enroll(ctx, e.f, u)
	require.NoError(t, err)

	gen := e.log.OfType(event.Enroll)
	require.Len(t, gen, 1)
	assert.Equal(t, u.ID, gen[0].UserID)
	assert.Equal(t, twofactor.MethodBackupCode, gen[0].Method)
	assert.Equal(t, event.ActionBackupCodesCreated, gen[0].Action)
	assert.Equal(t, 5, gen[0].Count)
	assert.Equal(t, backupcodes.EnrollmentBackupCodes, gen[0].EnrollmentID)
	assert.Empty(t, gen[0].Details)

	var lows []int
	for i, c := range codes {
		v, err := e.f.Verify(ctx, challenge(u), c)
		require.NoError(t, err)
		left := len(codes) - i - 1
		assert.Empty(t, v.Details, "the count is typed, not a detail")
		assert.Equal(t, left, v.Count)
		got := e.log.OfType(backupcodes.EventLow)
		if left > backupcodes.DefaultLowThreshold {
			assert.Empty(t, got, "no prompt while %d codes remain", left)
			continue
		}
		require.NotEmpty(t, got)
		last := got[len(got)-1]
		assert.Equal(t, u.ID, last.UserID)
		assert.Equal(t, twofactor.MethodBackupCode, last.Method)
		assert.Empty(t, last.Details)
		lows = append(lows, last.Count)
	}
	assert.Equal(t, []int{2, 1, 0}, lows)

	recovery, _, err := e.f.IssueRecoveryCode(ctx, u, "support:jane")
	require.NoError(t, err)
	_, err = e.f.Verify(ctx, challenge(u), recovery)
	require.NoError(t, err)
	require.Len(t, e.log.OfType(backupcodes.EventRecoveryUsed), 1)

	for _, ev := range e.log.All() {
		fields := []string{string(ev.Type), ev.UserID, ev.ChallengeID, string(ev.Reason), ev.IP, ev.Actor, ev.Label, ev.EnrollmentID}
		for k, v := range ev.Details {
			fields = append(fields, k, v)
		}
		text := strings.Join(fields, " ")
		for _, c := range append(codes, recovery) {
			for _, form := range codeForms(c) {
				assert.NotContains(t, text, form, "event %s", ev.Type)
			}
		}
	}

	t.Run("every set size and threshold", func(t *testing.T) {
		for _, count := range []int{1, 2, 3, 4, 5, 10} {
			for _, threshold := range []int{0, 1, 2, 5} {
				t.Run(fmt.Sprintf("count=%d/threshold=%d", count, threshold), func(t *testing.T) {
					e := newEnv(t, func(c *backupcodes.Config, _ *twofactor.Env) {
						c.Count = count
						c.LowThreshold = threshold
						if threshold == 0 {
							c.LowThreshold = -1 // zero means the default; test "none left" below
						}
					})
					if threshold == 0 {
						threshold = -1
					}
					codes, err := enroll(ctx, e.f, u)
					require.NoError(t, err)
					var want, got []int
					for i, c := range codes {
						left := len(codes) - i - 1
						if left <= threshold {
							want = append(want, left)
						}
						before := len(e.log.OfType(backupcodes.EventLow))
						_, err := e.f.Verify(ctx, challenge(u), c)
						require.NoError(t, err)
						if lows := e.log.OfType(backupcodes.EventLow); len(lows) > before {
							require.Len(t, lows, before+1, "one event per use")
							got = append(got, lows[before].Count)
						}
					}
					assert.Equal(t, want, got, "EventLow's Count")
				})
			}
		}
	})

	t.Run("regenerating resets the count", func(t *testing.T) {
		h := newServiceEnv(t, nil)
		alice := user("alice")
		codes, err := enroll(ctx, h.f, alice)
		require.NoError(t, err)
		for _, c := range codes[:9] {
			_, err := h.f.Verify(ctx, challenge(alice), c)
			require.NoError(t, err)
		}
		require.Len(t, h.log.OfType(backupcodes.EventLow), 2)
		en, err := h.svc.BeginEnroll(ctx, alice, twofactor.MethodBackupCode, twofactor.EnrollRequest{}, h.proof(t, alice))
		require.NoError(t, err)
		codes = en.Codes
		for i, c := range codes {
			before := len(h.log.OfType(backupcodes.EventLow))
			_, err := h.f.Verify(ctx, challenge(alice), c)
			require.NoError(t, err)
			lows := h.log.OfType(backupcodes.EventLow)
			if i < 7 {
				assert.Len(t, lows, before, "use %d of the new set", i+1)
			} else {
				require.Len(t, lows, before+1)
				assert.Equal(t, 9-i, lows[before].Count)
			}
		}
		require.Len(t, h.log.OfType(backupcodes.EventLow), 5)
	})

	t.Run("threshold disabled", func(t *testing.T) {
		e := newEnv(t, func(c *backupcodes.Config, _ *twofactor.Env) { c.Count = 2; c.LowThreshold = -1 })
		codes, err := enroll(ctx, e.f, u)
		require.NoError(t, err)
		for _, c := range codes {
			_, err := e.f.Verify(ctx, challenge(u), c)
			require.NoError(t, err)
		}
		assert.Empty(t, e.log.OfType(backupcodes.EventLow))
	})
}

func TestKeyRotation(t *testing.T) {
	clockEnv := newEnv(t, nil)
	a, b := newKey(t, "a"), newKey(t, "b")
	mk := func(keys ...keyring.Key) *backupcodes.Factor {
		env := clockEnv.env()
		env.Keys = newKeyring(t, keys...)
		f, err := backupcodes.New(env, backupcodes.Config{})
		require.NoError(t, err)
		return f
	}
	u := user("alice")
	underA, err := enroll(ctx, mk(a), u)
	require.NoError(t, err)

	rotated := mk(b, a)
	v, err := rotated.Verify(ctx, challenge(u), underA[0])
	require.NoError(t, err, "a code made under A verifies with the ring [B, A]")
	assert.Equal(t, backupcodes.EnrollmentBackupCodes, v.EnrollmentID)
	assert.Equal(t, 9, v.Count, "and counts as a use of the set")
	_, err = rotated.Verify(ctx, challenge(u), underA[0])
	require.ErrorIs(t, err, twofactor.ErrInvalidCode, "once")

	// Its use is counted on the set's counter, which stays: the next code
	// under A costs the batch, the lookup under A and the count, and a
	// wrong code on the way counts no use.
	env := clockEnv.env()
	env.Keys = newKeyring(t, b, a)
	spy := storespy.New(env.Store.(store.Store))
	env.Store = spy
	counted, err := backupcodes.New(env, backupcodes.Config{})
	require.NoError(t, err)
	_, err = counted.Verify(ctx, challenge(u), "zzzz-zzzz-zzzz")
	require.ErrorIs(t, err, twofactor.ErrInvalidCode)
	before := spy.Calls.Load()
	v, err = counted.Verify(ctx, challenge(u), underA[2])
	require.NoError(t, err)
	assert.EqualValues(t, 3, spy.Calls.Load()-before, "the batch, the lookup under A, the use's count")
	assert.Equal(t, 8, v.Count, "the wrong code took no use")

	recovery, _, err := mk(a).IssueRecoveryCode(ctx, u, "support:jane")
	require.NoError(t, err)
	_, err = rotated.Verify(ctx, challenge(u), recovery)
	require.NoError(t, err, "so does a recovery code")

	onlyB := mk(b)
	_, err = onlyB.Verify(ctx, challenge(u), underA[1])
	require.ErrorIs(t, err, twofactor.ErrInvalidCode, "dropping A voids its codes")

	u2 := user("bob")
	underB, err := enroll(ctx, rotated, u2)
	require.NoError(t, err)
	_, err = onlyB.Verify(ctx, challenge(u2), underB[0])
	require.NoError(t, err, "new codes are made under the current key")
	_, err = mk(a).Verify(ctx, challenge(u2), underB[1])
	require.ErrorIs(t, err, twofactor.ErrInvalidCode)
}

func TestRemove(t *testing.T) {
	e := newEnv(t, nil)
	u := user("alice")
	codes, err := enroll(ctx, e.f, u)
	require.NoError(t, err)
	recovery, _, err := e.f.IssueRecoveryCode(ctx, u, "support:jane")
	require.NoError(t, err)

	require.ErrorIs(t, e.f.Remove(ctx, u, "totp-1"), twofactor.ErrNotEnrolled)
	require.NoError(t, e.f.Remove(ctx, u, backupcodes.EnrollmentBackupCodes))
	_, err = e.f.Verify(ctx, challenge(u), codes[0])
	require.ErrorIs(t, err, twofactor.ErrInvalidCode)
	ens, err := e.f.Enrollments(ctx, u)
	require.NoError(t, err)
	require.Len(t, ens, 1)
	assert.Equal(t, backupcodes.EnrollmentRecoveryCode, ens[0].ID)

	require.NoError(t, e.f.RemoveAll(ctx, u))
	_, err = e.f.Verify(ctx, challenge(u), recovery)
	require.ErrorIs(t, err, twofactor.ErrInvalidCode)
	ens, err = e.f.Enrollments(ctx, u)
	require.NoError(t, err)
	assert.Empty(t, ens)

	_, err = enroll(ctx, e.f, u)
	require.NoError(t, err, "after removal a first set can be made again")
}

func TestStoreFailuresFailClosed(t *testing.T) {
	st := &failingStore{Memory: store.NewMemory()}
	f, err := backupcodes.New(twofactor.Env{Store: st, Keys: newKeyring(t, newKey(t, "k1")),
		Events: &event.Sink{Discard: true}}, backupcodes.Config{})
	require.NoError(t, err)
	u := user("alice")
	codes, err := enroll(ctx, f, u)
	require.NoError(t, err)

	st.broken.Store(true)
	_, err = f.Verify(ctx, challenge(u), codes[0])
	require.ErrorIs(t, err, errBoom)
	assert.NotErrorIs(t, err, twofactor.ErrInvalidCode, "a store failure is a system error, not a wrong code")
	_, err = f.Enrollments(ctx, u)
	require.ErrorIs(t, err, errBoom)
	_, err = f.Remaining(ctx, u)
	require.ErrorIs(t, err, errBoom)
	_, _, err = f.IssueRecoveryCode(ctx, u, "support:jane")
	require.ErrorIs(t, err, errBoom)
	require.ErrorIs(t, f.RemoveAll(ctx, u), errBoom)

	st.broken.Store(false)
	_, err = f.Verify(ctx, challenge(u), codes[0])
	require.NoError(t, err, "the failed call consumed nothing")
}

// A new set's codes, the old set's count of uses dropped and the new
// one's started go in one round trip: a first set costs five (the old
// set's record, its codes deleted, that batch, an old tally deleted, the
// record), a replacement four. A store failure among the codes leaves no
// partial set, and the call can be repeated.
func TestBeginEnrollRoundTrips(t *testing.T) {
	st := &failingStore{Memory: store.NewMemory()}
	spy := storespy.New(st)
	f, err := backupcodes.New(twofactor.Env{Store: spy, Keys: newKeyring(t, newKey(t, "k1")),
		Events: &event.Sink{Discard: true}}, backupcodes.Config{})
	require.NoError(t, err)
	u := user("alice")
	before := spy.Calls.Load()
	_, err = enroll(ctx, f, u)
	require.NoError(t, err)
	assert.EqualValues(t, 5, spy.Calls.Load()-before, "a first set")
	before = spy.Calls.Load()
	codes, err := enroll(ctx, f, u)
	require.NoError(t, err)
	assert.EqualValues(t, 4, spy.Calls.Load()-before, "a replacement")
	v, err := f.Verify(ctx, challenge(u), codes[0])
	require.NoError(t, err)
	assert.Equal(t, 9, v.Count, "the new set's count of uses started at one")

	st.putsLeft.Store(4)
	_, err = enroll(ctx, f, u)
	require.ErrorIs(t, err, errBoom)
	n, err := st.CountGroup(ctx, "backup:alice")
	require.NoError(t, err)
	assert.Zero(t, n, "no partial set")
	_, err = enroll(ctx, f, u)
	require.NoError(t, err, "the call can be repeated")
	n, err = st.CountGroup(ctx, "backup:alice")
	require.NoError(t, err)
	assert.Equal(t, 10, n)
}

// TestDoubleSubmit: the same code submitted on two challenges at once
// succeeds once; the other answer is a reuse (twofactor.ErrCodeReused),
// which the Service does not count toward the user's lockout.
func TestDoubleSubmit(t *testing.T) {
	e := newEnv(t, nil)
	u := user("alice")
	codes, err := enroll(ctx, e.f, u)
	require.NoError(t, err)
	recovery, _, err := e.f.IssueRecoveryCode(ctx, u, "support:jane")
	require.NoError(t, err)
	for i, code := range append(codes[:5], recovery) {
		chs := []*twofactor.Challenge{challenge(u), challenge(u)}
		chs[0].ID, chs[1].ID = fmt.Sprintf("tab-a-%d", i), fmt.Sprintf("tab-b-%d", i)
		errs := make([]error, 2)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for j := range chs {
			wg.Go(func() {
				<-start
				_, errs[j] = e.f.Verify(ctx, chs[j], code)
			})
		}
		close(start)
		wg.Wait()
		ok, reused := 0, 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case errors.Is(err, twofactor.ErrCodeReused):
				reused++
			default:
				t.Fatalf("code %d: %v", i, err)
			}
		}
		require.Equal(t, 1, ok, "code %d", i)
		require.Equal(t, 1, reused, "code %d", i)
	}

	t.Run("through the Service", func(t *testing.T) {
		h := newServiceEnv(t, nil)
		carol := user("carol")
		codes, err := enroll(ctx, h.f, carol)
		require.NoError(t, err)
		ids := make([]string, 2)
		for i := range ids {
			b, err := h.svc.Begin(ctx, carol, twofactor.Client{})
			require.NoError(t, err)
			ids[i] = b.Challenge.ID
		}
		var wg sync.WaitGroup
		start := make(chan struct{})
		var wins atomic.Int64
		for _, id := range ids {
			wg.Go(func() {
				<-start
				if _, err := h.svc.Verify(ctx, twofactor.Answer{ChallengeID: id, Method: twofactor.MethodBackupCode, Code: codes[0]}); err == nil {
					wins.Add(1)
				}
			})
		}
		close(start)
		wg.Wait()
		require.EqualValues(t, 1, wins.Load())
		fails := h.log.OfType(event.Failure)
		require.Len(t, fails, 1)
		assert.Equal(t, event.ReasonReplay, fails[0].Reason, "the loser is no guess")
	})

	t.Run("again later", func(t *testing.T) {
		e.clock.Advance(backupcodes.SubmitWindow)
		_, err := e.f.Verify(ctx, challenge(u), codes[0])
		require.ErrorIs(t, err, twofactor.ErrInvalidCode)
		assert.NotErrorIs(t, err, twofactor.ErrCodeReused, "a used code tried after the window is a wrong code")
	})
}

// TestConstruction: a Config given to twofactor.New is built with the
// Service's store, keyring, events, clock and randomness; built alone, the
// factor uses the Env it is given; an Env without a store or keys, or a
// store without what the factor needs, is an error at New.
func TestConstruction(t *testing.T) {
	t.Run("no store or keys", func(t *testing.T) {
		for name, env := range map[string]twofactor.Env{
			"nothing":  {},
			"no keys":  {Store: store.NewMemory()},
			"no store": {Keys: newKeyring(t, newKey(t, "k1"))},
		} {
			f, err := backupcodes.New(env, backupcodes.Config{})
			require.ErrorIs(t, err, twofactor.ErrConfig, name)
			assert.Nil(t, f, name)
			assert.True(t, strings.HasPrefix(err.Error(), "backupcodes: "), err.Error())
			_, err = backupcodes.Config{}.NewFactor(env)
			require.ErrorIs(t, err, twofactor.ErrConfig, name)
		}
	})

	t.Run("built by the Service", func(t *testing.T) {
		e := newEnv(t, nil)
		env := e.env()
		env.Rand = fixedRand("0v1k7qm3xt9f")
		svc, err := twofactor.New(twofactor.Config{Store: env.Store, Keys: env.Keys,
			Factors: []twofactor.FactorConfig{backupcodes.Config{Count: 8}},
			Events:  env.Events, Now: env.Now, Rand: env.Rand})
		require.NoError(t, err)
		built, ok := svc.Factor(twofactor.MethodBackupCode)
		require.True(t, ok)
		f := built.(*backupcodes.Factor)
		u := user("alice")
		en, err := svc.BeginEnroll(ctx, u, twofactor.MethodBackupCode, twofactor.EnrollRequest{}, "")
		require.NoError(t, err)
		require.Len(t, en.Codes, 8, "its own Count")
		assert.Equal(t, "0v1k-7qm3-xt9f", en.Codes[0], "the Service's Rand")
		n, err := e.store.CountGroup(ctx, "backup:alice")
		require.NoError(t, err)
		assert.Equal(t, 8, n, "the Service's store")
		require.Len(t, e.log.OfType(event.Enroll), 1, "the Service's events")
		ens, err := f.Enrollments(ctx, u)
		require.NoError(t, err)
		assert.Equal(t, t0, ens[0].CreatedAt, "the Service's clock")
		b, err := svc.Begin(ctx, u, twofactor.Client{})
		require.NoError(t, err)
		_, err = svc.Verify(ctx, twofactor.Answer{ChallengeID: b.Challenge.ID, Method: twofactor.MethodBackupCode, Code: en.Codes[3]})
		require.NoError(t, err)
	})

	t.Run("built alone, its own Env", func(t *testing.T) {
		own := store.NewMemory()
		keys := newKeyring(t, newKey(t, "k1"))
		f, err := backupcodes.New(twofactor.Env{Store: own, Keys: keys, Events: &event.Sink{Discard: true}}, backupcodes.Config{})
		require.NoError(t, err)
		shared := store.NewMemory()
		_, err = twofactor.New(twofactor.Config{Store: shared, Keys: keys,
			Factors: []twofactor.FactorConfig{twofactor.FactorFunc(func(twofactor.Env) (twofactor.Factor, error) { return f, nil })},
			Events:  &event.Sink{Discard: true}})
		require.NoError(t, err)
		_, err = enroll(ctx, f, user("alice"))
		require.NoError(t, err)
		n, err := own.CountGroup(ctx, "backup:alice")
		require.NoError(t, err)
		assert.Equal(t, 10, n)
		n, err = shared.CountGroup(ctx, "backup:alice")
		require.NoError(t, err)
		assert.Zero(t, n)
	})

	t.Run("store without what the factor needs", func(t *testing.T) {
		keys := newKeyring(t, newKey(t, "k1"))
		f, err := backupcodes.New(twofactor.Env{Store: rootOnly{store.NewMemory()}, Keys: keys}, backupcodes.Config{})
		require.ErrorIs(t, err, twofactor.ErrConfig)
		assert.Nil(t, f)
		assert.Contains(t, err.Error(), "store.Codes, store.CodeGroups, store.Enrollments")
		assert.NotContains(t, err.Error(), "store.Counters")

		_, err = twofactor.New(twofactor.Config{Store: rootOnly{store.NewMemory()}, Keys: keys,
			Factors: []twofactor.FactorConfig{backupcodes.Config{}}})
		require.ErrorIs(t, err, twofactor.ErrConfig)
		assert.Contains(t, err.Error(), "store.Codes, store.CodeGroups, store.Enrollments")
	})
}

// rootOnly is a store with only what the Service itself needs.
type rootOnly struct{ twofactor.Store }

// VerifyOps reads only the operations CheckOps returned for the same
// user, once run: others are an error, never a success or a panic.
func TestVerifyOpsChecksItsOperations(t *testing.T) {
	e := newEnv(t, nil)
	u := user("alice")
	codes, err := enroll(ctx, e.f, u)
	require.NoError(t, err)
	ops, err := e.f.CheckOps(challenge(u), codes[0])
	require.NoError(t, err)
	require.Len(t, ops, 3, "the mark, the consumption, the count of uses on a match")
	assert.Equal(t, 2, ops[2].If, "the count of uses waits on the consumption")
	require.NoError(t, store.RunBatch(ctx, e.store, ops, e.clock.Now()))

	skipped := slices.Clone(ops)
	skipped[1].Skipped = true
	bobs := slices.Clone(ops)
	bobs[1].Group = "backup:bob"
	for name, bad := range map[string][]store.Op{
		"none":                              nil,
		"one":                               ops[:1],
		"two of three":                      ops[:2],
		"a skipped check":                   skipped,
		"another user's":                    bobs,
		"an unrun count":                    {{Kind: store.OpIncrBelow}, ops[1], ops[2]},
		"a matched but unrun count of uses": {ops[0], ops[1], {Kind: store.OpIncrBelow, Skipped: true}},
	} {
		_, err := e.f.VerifyOps(ctx, challenge(u), codes[0], bad)
		require.Error(t, err, name)
		require.NotErrorIs(t, err, twofactor.ErrInvalidCode, name)
	}
	_, err = e.f.VerifyOps(ctx, nil, codes[0], ops)
	require.Error(t, err, "a nil challenge")
	v, err := e.f.VerifyOps(ctx, challenge(u), codes[0], ops)
	require.NoError(t, err)
	assert.Equal(t, 9, v.Count)
}
