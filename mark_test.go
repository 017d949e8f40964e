package twofactor_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	otptotp "github.com/pquerna/otp/totp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/internal/eventlog"
	"github.com/twofactorkit/twofactor/internal/storespy"
	"github.com/twofactorkit/twofactor/store"
	"github.com/twofactorkit/twofactor/store/storetest"
	"github.com/twofactorkit/twofactor/totp"
)

// markApp is a Service with an authenticator app enrolled for its user,
// on a counted memory store, whose events are logged.
type markApp struct {
	signIn
	spy    *storespy.Spy
	clock  *storetest.Clock
	log    eventlog.Log
	secret string
}

func newMarkApp(t *testing.T, mod func(*twofactor.Config)) *markApp {
	t.Helper()
	a := &markApp{clock: storetest.NewClock(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)),
		signIn: signIn{user: twofactor.User{ID: "ada"}, method: twofactor.MethodTOTP}}
	a.spy = storespy.New(store.NewMemory(a.clock.Now))
	cfg := twofactor.Config{Store: a.spy, Keys: newKeys(t), Now: a.clock.Now,
		Events:  &event.Sink{Discard: true, Hook: a.log.Hook},
		Factors: []twofactor.FactorConfig{totp.Config{Issuer: "Acme"}}}
	if mod != nil {
		mod(&cfg)
	}
	svc, err := twofactor.New(cfg)
	require.NoError(t, err)
	a.svc = svc
	ctx := context.Background()
	tf, _ := svc.Factor(twofactor.MethodTOTP)
	enr, err := tf.(twofactor.Enroller).BeginEnroll(ctx, a.user, twofactor.EnrollRequest{})
	require.NoError(t, err)
	a.secret = enr.Secret
	_, err = tf.(twofactor.Enroller).ConfirmEnroll(ctx, a.user, a.code(t))
	require.NoError(t, err)
	a.clock.Advance(time.Minute)
	a.log.Reset()
	return a
}

func (a *markApp) code(t *testing.T) string {
	t.Helper()
	code, err := otptotp.GenerateCode(a.secret, a.clock.Now())
	require.NoError(t, err)
	return code
}

// lastUse is the last use recorded with the user's authenticator app.
func (a *markApp) lastUse(t *testing.T) time.Time {
	t.Helper()
	recs, err := a.spy.ListEnrollments(context.Background(), a.user.ID)
	require.NoError(t, err)
	require.Len(t, recs, 1)
	return recs[0].LastUsedAt
}

// A TOTP code's time step is marked in the round trip that ends the
// challenge, the end waiting on the mark. A code whose step was taken is
// refused as a replay, and of that round trip nothing else is written: the
// challenge stays open, the last use stays, and the answer is not held
// against the user (with a lockout at the first wrong answer, the next
// right code still gets in).
func TestTOTPStepMarkedWithEnd(t *testing.T) {
	a := newMarkApp(t, func(c *twofactor.Config) { c.Limits.MaxUserFailures = 1 })
	code := a.code(t)
	res, err := a.verify(a.begin(t), code)
	require.NoError(t, err)
	used := a.lastUse(t)
	assert.True(t, used.Equal(res.VerifiedAt), "the last use is the sign-in's")

	a.clock.Advance(time.Second)
	id := a.begin(t)
	_, err = a.verify(id, code)
	require.ErrorIs(t, err, twofactor.ErrInvalidCode, "the step taken")
	assert.Equal(t, []event.Reason{event.ReasonReplay}, a.log.Reasons(event.Failure))
	assert.Empty(t, a.log.OfType(event.Lockout), "a replay is no guess")
	assert.True(t, a.lastUse(t).Equal(used), "a replay records no use")

	a.clock.Advance(30 * time.Second)
	res, err = a.verify(id, a.code(t))
	require.NoError(t, err, "the challenge a replay answered stays open, and the user is not locked out")
	assert.True(t, a.lastUse(t).Equal(res.VerifiedAt))
	_, err = a.verify(id, a.code(t))
	require.ErrorIs(t, err, twofactor.ErrChallengeNotFound, "the challenge was ended by the right code")
}

// With a Veto, whose verdict comes between the factor's check and the
// challenge's end, the step is marked before it is asked: a replay never
// reaches the Veto, and a right code costs one round trip more.
func TestTOTPStepMarkedBeforeVeto(t *testing.T) {
	var asked int
	a := newMarkApp(t, func(c *twofactor.Config) {
		c.Veto = func(context.Context, twofactor.VetoInput) error { asked++; return nil }
	})
	code := a.code(t)
	id := a.begin(t)
	before := a.spy.Calls.Load()
	_, err := a.verify(id, code)
	require.NoError(t, err)
	assert.EqualValues(t, 3, a.spy.Calls.Load()-before, "the count, the mark, the end")
	assert.Equal(t, 1, asked)

	_, err = a.verify(a.begin(t), code)
	require.ErrorIs(t, err, twofactor.ErrInvalidCode)
	assert.Equal(t, 1, asked, "a replay is not put to the Veto")
}

// Of many challenges answered at once with the same code, exactly one
// succeeds; every other answer is a replay, and none is held against the
// user. (Answers in flight together all count until the replays are given
// back, so the lockout is set above their number.)
func TestTOTPStepMarkedRace(t *testing.T) {
	const n = 24
	a := newMarkApp(t, func(c *twofactor.Config) { c.Limits.MaxUserFailures = 2 * n })
	for round := range 3 {
		a.clock.Advance(30 * time.Second)
		code := a.code(t)
		ids := make([]string, n)
		for i := range ids {
			ids[i] = a.begin(t)
		}
		a.log.Reset()
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { _, errs[i] = a.verify(ids[i], code) })
		}
		wg.Wait()
		wins := 0
		for _, err := range errs {
			switch {
			case err == nil:
				wins++
			case !errors.Is(err, twofactor.ErrInvalidCode):
				t.Fatalf("round %d: %v", round, err)
			}
		}
		require.Equal(t, 1, wins, "round %d: successes", round)
		reasons := a.log.Reasons(event.Failure)
		require.Len(t, reasons, n-1, "round %d", round)
		for _, r := range reasons {
			require.Equal(t, event.ReasonReplay, r, "round %d", round)
		}
		require.Empty(t, a.log.OfType(event.Lockout), "round %d", round)
	}
}

// markingFactor is a host's authenticator-app factor that accepts one
// fixed code and returns mark with every verification, through each of
// the methods the Service may call.
type markingFactor struct {
	*codeFactor
	mark store.Op
}

func (f markingFactor) Verify(ctx context.Context, ch *twofactor.Challenge, answer string) (twofactor.Verified, error) {
	v, err := f.codeFactor.Verify(ctx, ch, answer)
	v.Mark = f.mark
	return v, err
}

func (f markingFactor) VerifyRecords(ctx context.Context, ch *twofactor.Challenge, answer string, _ []store.EnrollmentRecord) (twofactor.Verified, error) {
	return f.Verify(ctx, ch, answer)
}

// markVerifier is markingFactor as a twofactor.MarkVerifier.
type markVerifier struct{ markingFactor }

func (f markVerifier) VerifyMarked(ctx context.Context, ch *twofactor.Challenge, answer string, _ []store.EnrollmentRecord) (twofactor.Verified, error) {
	return f.Verify(ctx, ch, answer)
}

// The Service runs a mark that VerifyMarked returns, and only that one:
// a mark from Verify or VerifyRecords is not run (the factor wrote what it
// needed), nor is VerifyMarked asked on a store without batches; a mark
// that is not an advance fails the answer, the challenge left open.
func TestMarkOnlyFromVerifyMarked(t *testing.T) {
	ctx := context.Background()
	const right = "654321"
	advance := store.Op{Kind: store.OpAdvance, Key: "host-ledger", Mark: 7, Time: time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)}
	for _, tc := range []struct {
		name   string
		factor func(*codeFactor) twofactor.Factor
		plain  bool // a store without batches
		marked bool // the mark was run
	}{
		{"VerifyMarked", func(f *codeFactor) twofactor.Factor { return markVerifier{markingFactor{f, advance}} }, false, true},
		{"VerifyRecords", func(f *codeFactor) twofactor.Factor { return markingFactor{f, advance} }, false, false},
		{"VerifyMarked, no batches", func(f *codeFactor) twofactor.Factor { return markVerifier{markingFactor{f, advance}} }, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mem *store.Memory
			e := newEnv(t, func(c *twofactor.Config) {
				mem = c.Store.(*store.Memory)
				app := &codeFactor{method: twofactor.MethodTOTP, static: right, now: c.Now, enrolled: map[string]bool{"alice": true}}
				c.Factors = factors(tc.factor(app))
				if tc.plain {
					c.Store = plainStore{mem}
				}
			})
			_, err := e.verify(e.begin(), twofactor.MethodTOTP, right)
			require.NoError(t, err)
			raised, err := mem.Advance(ctx, advance.Key, advance.Mark, advance.Time)
			require.NoError(t, err)
			assert.Equal(t, !tc.marked, raised, "the mark was run: %v", !raised)
		})
	}

	mark := store.Op{Kind: store.OpMarkUsed, Key: "host-mark", Time: advance.Time}
	e := newEnv(t, func(c *twofactor.Config) {
		app := &codeFactor{method: twofactor.MethodTOTP, static: right, now: c.Now, enrolled: map[string]bool{"alice": true}}
		c.Factors = factors(markVerifier{markingFactor{app, mark}})
	})
	ch := e.begin()
	_, err := e.verify(ch, twofactor.MethodTOTP, right)
	require.Error(t, err)
	assert.NotErrorIs(t, err, twofactor.ErrInvalidCode, "a factor's fault, not the user's")
	first, err := e.mem.MarkUsed(ctx, mark.Key, mark.Time)
	require.NoError(t, err)
	assert.True(t, first, "a mark of another kind is not run")
	done, _, err := e.mem.Peek(ctx, "tf:done:"+ch.Key())
	require.NoError(t, err)
	assert.Zero(t, done, "nor is the challenge ended")
}

// counterMarking is markVerifier returning counter beside its mark, as
// Verified.CounterMark, without being a twofactor.CounterVerifier.
type counterMarking struct {
	markVerifier
	counter store.Op
}

func (f counterMarking) VerifyMarked(ctx context.Context, ch *twofactor.Challenge, answer string, records []store.EnrollmentRecord) (twofactor.Verified, error) {
	v, err := f.markVerifier.VerifyMarked(ctx, ch, answer, records)
	v.CounterMark = f.counter
	return v, err
}

// counterVerifier is counterMarking as a twofactor.CounterVerifier: it
// keeps what CounterRefused is asked and answers with err.
type counterVerifier struct {
	counterMarking
	refused *[]twofactor.Verified
	err     error
}

func (f counterVerifier) CounterRefused(_ context.Context, _ *twofactor.Challenge, got twofactor.Verified, _ []store.EnrollmentRecord) error {
	*f.refused = append(*f.refused, got)
	return f.err
}

// A counter that VerifyMarked returns beside its mark runs after it, in
// the round trip that ends the challenge, and only when the mark was new;
// the challenge ends only when the counter rose. A counter that did not
// rise is refused with the factor's error, counted as a wrong answer, and
// ends nothing; a mark already taken is a replay, whose counter does not
// run and which the factor is not asked about. A counter from a factor
// that is no CounterVerifier, without a mark, or not an advance fails the
// answer as the factor's fault, and nothing runs.
func TestCounterMark(t *testing.T) {
	ctx := context.Background()
	const right = "654321"
	exp := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	mark := store.Op{Kind: store.OpAdvance, Key: "host-ceremony", Mark: 1, Time: exp}
	counter := store.Op{Kind: store.OpAdvance, Key: "host-counter", Mark: 7, Time: exp}
	errCloned := fmt.Errorf("%w: the counter fell", twofactor.ErrInvalidCode)
	for _, tc := range []struct {
		name      string
		verifier  bool     // a CounterVerifier
		mark      store.Op // the mark returned
		counter   store.Op // the counter returned
		marked    bool     // the mark is taken before the answer
		counted   int64    // the counter's mark before the answer (0: none)
		want      error    // nil: signed in
		fault     bool     // the factor's fault, not the user's
		reason    event.Reason
		refusals  int   // CounterRefused calls
		failRun   int64 // the user's run of wrong answers after it (1 before; a fault's count stays)
		markAfter bool  // the mark is taken after the answer
		countAt   int64 // the counter's mark after the answer
	}{
		{name: "both rise", verifier: true, mark: mark, counter: counter, failRun: 0, markAfter: true, countAt: 7},
		{name: "the counter kept", verifier: true, mark: mark, counter: counter, counted: 7, want: twofactor.ErrInvalidCode, reason: event.ReasonInvalid,
			refusals: 1, failRun: 2, markAfter: true, countAt: 7},
		{name: "the counter fell", verifier: true, mark: mark, counter: counter, counted: 9, want: twofactor.ErrInvalidCode, reason: event.ReasonInvalid,
			refusals: 1, failRun: 2, markAfter: true, countAt: 9},
		{name: "the mark taken", verifier: true, mark: mark, counter: counter, marked: true, want: twofactor.ErrInvalidCode, reason: event.ReasonReplay,
			failRun: 1, markAfter: true},
		{name: "no CounterVerifier", mark: mark, counter: counter, fault: true, failRun: 2},
		{name: "no mark", verifier: true, counter: counter, fault: true, failRun: 2},
		{name: "not an advance", verifier: true, mark: mark, counter: store.Op{Kind: store.OpMarkUsed, Key: "host-counter", Time: exp}, fault: true, failRun: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var refused []twofactor.Verified
			e := newEnv(t, func(c *twofactor.Config) {
				app := &codeFactor{method: twofactor.MethodTOTP, static: right, now: c.Now, enrolled: map[string]bool{"alice": true}}
				cm := counterMarking{markVerifier{markingFactor{app, tc.mark}}, tc.counter}
				var f twofactor.Factor = cm
				if tc.verifier {
					f = counterVerifier{cm, &refused, errCloned}
				}
				c.Factors = factors(f)
			})
			primeLedger(t, e.mem, mark, counter, tc.marked, tc.counted)
			_, _, err := e.mem.Incr(ctx, "tf:fail:alice", time.Hour) // a wrong answer before
			require.NoError(t, err)
			ch := e.begin()
			res, err := e.verify(ch, twofactor.MethodTOTP, right)
			switch {
			case tc.fault:
				require.Error(t, err)
				assert.NotErrorIs(t, err, twofactor.ErrInvalidCode, "a factor's fault, not the user's")
			case tc.want != nil:
				require.ErrorIs(t, err, tc.want)
				fails := e.eventsOf(event.Failure)
				require.Len(t, fails, 1)
				assert.Equal(t, tc.reason, fails[0].Reason)
			default:
				require.NoError(t, err)
				require.NotEmpty(t, res.Proof)
			}
			done, _, err := e.mem.Peek(ctx, "tf:done:"+ch.Key())
			require.NoError(t, err)
			assert.Equal(t, b2i(tc.want == nil && !tc.fault), done, "the challenge ended")
			run, _, err := e.mem.Peek(ctx, "tf:fail:alice")
			require.NoError(t, err)
			assert.Equal(t, tc.failRun, run, "the user's run of wrong answers")
			require.Len(t, refused, tc.refusals, "CounterRefused calls")
			for _, got := range refused {
				assert.Equal(t, counter, got.CounterMark, "CounterRefused is given the answer's counter")
			}
			assertLedger(t, e.mem, mark, counter, tc.markAfter, tc.countAt)
		})
	}
}

// primeLedger takes mark's key when taken is set, and sets counter's mark
// to at when it is above zero.
func primeLedger(t *testing.T, mem *store.Memory, mark, counter store.Op, taken bool, at int64) {
	t.Helper()
	ctx := context.Background()
	if taken {
		first, err := mem.MarkUsed(ctx, mark.Key, mark.Time)
		require.NoError(t, err)
		require.True(t, first)
	}
	if at > 0 {
		_, err := mem.Advance(ctx, counter.Key, at, counter.Time)
		require.NoError(t, err)
	}
}

// assertLedger checks that mark's key is taken when taken is set, and
// that counter's mark is at (0: none), consuming both.
func assertLedger(t *testing.T, mem *store.Memory, mark, counter store.Op, taken bool, at int64) {
	t.Helper()
	ctx := context.Background()
	free, err := mem.Advance(ctx, mark.Key, 1, mark.Time)
	require.NoError(t, err)
	assert.Equal(t, taken, !free, "the mark is taken")
	for v := int64(1); v <= 10; v++ {
		raised, err := mem.Advance(ctx, counter.Key, v, counter.Time)
		require.NoError(t, err)
		if raised {
			assert.Equal(t, at+1, v, "the counter's mark was %d", at)
			return
		}
	}
	t.Errorf("the counter's mark is above 10, not %d", at)
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}
