package twofactor_test

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/internal/storespy"
	"github.com/twofactorkit/twofactor/store"
)

var errBlocked = errors.New("network on the block list")

// vetoEnv is an env whose veto refuses client.IP, and records what it was
// asked.
type vetoEnv struct {
	*env
	mu    sync.Mutex
	asked []twofactor.VetoInput
}

func newVetoEnv(t *testing.T) *vetoEnv {
	ve := &vetoEnv{}
	ve.env = newEnv(t, func(cfg *twofactor.Config) {
		cfg.Veto = func(_ context.Context, in twofactor.VetoInput) error {
			ve.mu.Lock()
			defer ve.mu.Unlock()
			ve.asked = append(ve.asked, in)
			if in.Client.IP == client.IP {
				return errBlocked
			}
			return nil
		}
	})
	return ve
}

func (e *env) failures(t *testing.T) int64 {
	t.Helper()
	n, _, err := e.mem.Peek(context.Background(), "tf:fail:alice")
	require.NoError(t, err)
	return n
}

func TestVetoRefusesVerification(t *testing.T) {
	ctx := context.Background()
	e := newVetoEnv(t)
	ch := e.begin()
	_, err := e.svc.Send(ctx, ch.ID, twofactor.MethodEmail, client)
	require.NoError(t, err)

	// A wrong answer is the factor's to refuse: the veto is not asked.
	_, err = e.verify(ch, twofactor.MethodEmail, wrongCode(1))
	require.ErrorIs(t, err, twofactor.ErrInvalidCode)
	assert.Empty(t, e.asked)
	require.EqualValues(t, 1, e.failures(t))

	res, err := e.svc.Verify(ctx, twofactor.Answer{ChallengeID: ch.ID, Method: twofactor.MethodEmail, Code: "123456", UserID: "alice",
		Client: client, RememberDevice: true})
	require.ErrorIs(t, err, twofactor.ErrVetoed)
	require.ErrorIs(t, err, errBlocked, "the host's reason is wrapped")
	assert.False(t, errors.Is(err, twofactor.ErrInvalidCode), "to the user it is no wrong code")
	require.Nil(t, res, "a veto is never a success: no proof, no trusted device")

	require.Len(t, e.asked, 1)
	in := e.asked[0]
	assert.Equal(t, twofactor.VetoInput{User: alice, ChallengeID: ch.Key(), Purpose: twofactor.PurposeLogin, Method: twofactor.MethodEmail,
		EnrollmentID: "email-1", Client: client}, in)

	// The challenge has ended: the right code again, or another method,
	// finds nothing.
	_, err = e.verify(ch, twofactor.MethodTOTP, "654321")
	assert.ErrorIs(t, err, twofactor.ErrChallengeNotFound)
	_, err = e.svc.Challenge(ctx, ch.ID)
	assert.ErrorIs(t, err, twofactor.ErrChallengeNotFound)

	// The code the factor consumed stays consumed.
	st, err := e.mem.ConsumeCode(ctx, ch.ID, string(twofactor.MethodEmail), e.keys.Hash("test", []byte(ch.ID+"123456")))
	require.NoError(t, err)
	assert.NotEqual(t, store.CodeMatched, st)

	// The right answer is no guess: its count is taken back, and the wrong
	// answer before it is still counted (a refused sign-in does not end
	// the run as a success does).
	assert.EqualValues(t, 1, e.failures(t))

	assert.Empty(t, e.eventsOf(event.Success))
	assert.Empty(t, e.eventsOf(event.DeviceRemembered))
	var vetoed []event.Event
	for _, ev := range e.eventsOf(event.Failure) {
		if ev.Reason == event.ReasonVetoed {
			vetoed = append(vetoed, ev)
		}
	}
	require.Len(t, vetoed, 1)
	assert.Equal(t, errBlocked.Error(), vetoed[0].Details[event.DetailVeto])
	assert.Equal(t, twofactor.MethodEmail, vetoed[0].Method)
	assert.Equal(t, "alice", vetoed[0].UserID)
}

// The other factors' codes for a vetoed challenge are cancelled with it.
func TestVetoCancelsOtherFactors(t *testing.T) {
	ctx := context.Background()
	e := newVetoEnv(t)
	ch := e.begin()
	_, err := e.svc.Send(ctx, ch.ID, twofactor.MethodEmail, client)
	require.NoError(t, err)
	_, err = e.verify(ch, twofactor.MethodTOTP, "654321")
	require.ErrorIs(t, err, twofactor.ErrVetoed)
	assert.Contains(t, e.email.canceled, ch.ID)
	st, err := e.mem.ConsumeCode(ctx, ch.ID, string(twofactor.MethodEmail), e.keys.Hash("test", []byte(ch.ID+"123456")))
	require.NoError(t, err)
	assert.NotEqual(t, store.CodeMatched, st)
}

// Vetoes do not lock a user out however many there are (each answer was
// right), and do not lift a lockout either.
func TestVetoAndLockout(t *testing.T) {
	e := newVetoEnv(t)
	for range defaultMaxUserFailures + 2 {
		ch := e.begin()
		_, err := e.verify(ch, twofactor.MethodTOTP, "654321")
		require.ErrorIs(t, err, twofactor.ErrVetoed)
	}
	assert.Zero(t, e.failures(t))
	assert.Empty(t, e.eventsOf(event.Lockout))

	// Lock alice out with wrong answers from elsewhere, then a vetoed
	// right answer does not unlock her.
	other := twofactor.Client{IP: netip.MustParseAddr("198.51.100.9")}
	for i := range defaultMaxUserFailures {
		b, err := e.svc.Begin(context.Background(), alice, other)
		require.NoError(t, err)
		_, err = e.svc.Verify(context.Background(), twofactor.Answer{ChallengeID: b.Challenge.ID, Method: twofactor.MethodTOTP, Code: wrongCode(i), Client: other})
		require.ErrorIs(t, err, twofactor.ErrInvalidCode)
	}
	_, err := e.svc.Begin(context.Background(), alice, client)
	require.ErrorIs(t, err, twofactor.ErrLocked)
	assert.EqualValues(t, defaultMaxUserFailures, e.failures(t))
}

// A veto that lets the verification through changes nothing: the Result
// is as without one.
func TestVetoAllows(t *testing.T) {
	e := newVetoEnv(t)
	other := twofactor.Client{IP: netip.MustParseAddr("198.51.100.9"), FirstFactor: twofactor.FirstPassword}
	b, err := e.svc.Begin(context.Background(), alice, other)
	require.NoError(t, err)
	res, err := e.svc.Verify(context.Background(), twofactor.Answer{ChallengeID: b.Challenge.ID, Method: twofactor.MethodTOTP, Code: "654321", Client: other})
	require.NoError(t, err)
	require.NotEmpty(t, res.Proof)
	require.Len(t, e.asked, 1)
	assert.Equal(t, other, e.asked[0].Client)
	assert.Len(t, e.eventsOf(event.Success), 1)
}

// Step-up challenges are vetoed too: no proof for a refused step-up.
func TestVetoStepUp(t *testing.T) {
	ctx := context.Background()
	e := newVetoEnv(t)
	ch, err := e.svc.StepUp(ctx, alice, client, twofactor.PurposeStepUp)
	require.NoError(t, err)
	res, err := e.svc.Verify(ctx, twofactor.Answer{ChallengeID: ch.ID, Method: twofactor.MethodTOTP, Code: "654321", Client: client, Purpose: twofactor.PurposeStepUp})
	require.ErrorIs(t, err, twofactor.ErrVetoed)
	require.Nil(t, res)
	assert.Equal(t, twofactor.PurposeStepUp, e.asked[0].Purpose)
}

// Concurrent right answers to a challenge whose verification is vetoed:
// the code is consumed once, exactly one answer reaches the veto, none
// succeeds, and none is left on the user's count of wrong answers.
func TestVetoConcurrentAnswers(t *testing.T) {
	ctx := context.Background()
	e := newVetoEnv(t)
	ch := e.begin()
	_, err := e.svc.Send(ctx, ch.ID, twofactor.MethodEmail, client)
	require.NoError(t, err)
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			res, err := e.verify(ch, twofactor.MethodEmail, "123456")
			if res != nil {
				err = errors.New("a vetoed challenge succeeded")
			}
			errs[i] = err
		})
	}
	wg.Wait()
	vetoed := 0
	for _, err := range errs {
		switch {
		case errors.Is(err, twofactor.ErrVetoed):
			vetoed++
		case errors.Is(err, twofactor.ErrInvalidCode), errors.Is(err, twofactor.ErrChallengeNotFound), errors.Is(err, twofactor.ErrTooManyAttempts):
		default:
			t.Errorf("unexpected outcome %v", err)
		}
	}
	assert.Equal(t, 1, vetoed)
	assert.Len(t, e.asked, 1)
	assert.Empty(t, e.eventsOf(event.Success))
	assert.Zero(t, e.failures(t), "no answer was a guess")
}

// A vetoed challenge that cannot be ended still refuses the answer, and
// warns that it is left open; one already ended (by a concurrent answer,
// a cancel) is no cause for a warning.
func TestVetoWarnsOnlyWhenTheRecordStays(t *testing.T) {
	for _, tt := range []struct {
		name  string
		ended bool
		warn  bool
	}{
		{"store failure", false, true},
		{"already ended", true, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var spy *storespy.Spy
			ve := &vetoEnv{}
			var ch *twofactor.Challenge
			ve.env = newEnv(t, func(cfg *twofactor.Config) {
				spy = storespy.New(cfg.Store.(store.Store))
				cfg.Store = spy
				cfg.Veto = func(context.Context, twofactor.VetoInput) error {
					if tt.ended {
						require.NoError(t, ve.svc.Cancel(ctx, ch.ID))
					} else {
						spy.Fail("Incr", errors.New("store down"))
					}
					return errBlocked
				}
			})
			ch = ve.begin()
			_, err := ve.verify(ch, twofactor.MethodTOTP, "654321")
			require.ErrorIs(t, err, twofactor.ErrVetoed)
			var warned bool
			for _, ev := range ve.eventsOf(event.Warning) {
				warned = warned || ev.Reason == event.ReasonCancelFailed
			}
			assert.Equal(t, tt.warn, warned)
			assert.Empty(t, ve.eventsOf(event.Success))
		})
	}
}
