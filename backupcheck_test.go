package twofactor_test

import (
	"context"
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
	"github.com/twofactorkit/twofactor/store/storetest"
)

// backupEnv is a Service with backup codes alone on a memory store whose
// calls are counted, and a user with a set.
type backupEnv struct {
	signIn
	spy   *storespy.Spy
	mem   *store.Memory
	clock *storetest.Clock
	codes []string
	left  atomic.Int64 // Count of the last success event: backup codes left
}

func newBackupEnv(t *testing.T, limits twofactor.Limits, keys *keyring.Ring, factor twofactor.FactorConfig) *backupEnv {
	t.Helper()
	e := &backupEnv{clock: storetest.NewClock(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)),
		signIn: signIn{user: twofactor.User{ID: "ada"}, method: twofactor.MethodBackupCode}}
	e.mem = store.NewMemory(e.clock.Now)
	e.spy = storespy.New(e.mem)
	if factor == nil {
		factor = backupcodes.Config{}
	}
	svc, err := twofactor.New(twofactor.Config{Store: e.spy, Keys: keys, Now: e.clock.Now, Limits: limits,
		Events: e.sink(), Factors: []twofactor.FactorConfig{factor}})
	require.NoError(t, err)
	e.svc = svc
	return e
}

// sink records the Count of success events in left.
func (e *backupEnv) sink() *event.Sink {
	return &event.Sink{Discard: true, Hook: func(_ context.Context, ev event.Event) {
		if ev.Type == event.Success {
			e.left.Store(int64(ev.Count))
		}
	}}
}

func (e *backupEnv) enroll(t *testing.T) {
	t.Helper()
	bc, _ := e.svc.Factor(twofactor.MethodBackupCode)
	set, err := bc.(twofactor.Enroller).BeginEnroll(context.Background(), e.user, twofactor.EnrollRequest{})
	require.NoError(t, err)
	e.codes = set.Codes
}

func (e *backupEnv) fails(t *testing.T) int64 {
	t.Helper()
	n, _, err := e.mem.Peek(context.Background(), "tf:fail:"+e.user.ID)
	require.NoError(t, err)
	return n
}

// otherCodes returns n well-formed backup codes of another set: wrong
// codes for e's user that reach the store.
func otherCodes(t *testing.T, keys *keyring.Ring, n int) []string {
	t.Helper()
	o := newBackupEnv(t, twofactor.Limits{}, keys, nil)
	o.user = twofactor.User{ID: "someone-else"}
	o.enroll(t)
	return o.codes[:n]
}

// The check of a backup code runs in the round trip that counts the
// answer, on its condition: an answer refused by the lockout leaves no
// mark of its code's submission. Otherwise a guess made while locked out
// would, once the lockout is over, be taken for the second of a double
// submit, a reuse that the lockout does not count, and every guess could
// be tried for free that way.
func TestBackupCodeRefusedLeavesNoMark(t *testing.T) {
	keys := newKeys(t)
	e := newBackupEnv(t, twofactor.Limits{MaxUserFailures: 2, LockoutDuration: time.Minute}, keys, nil)
	e.enroll(t)
	wrong := otherCodes(t, keys, 3)
	id := e.begin(t)
	for _, w := range wrong[:2] {
		_, err := e.verify(id, w)
		require.ErrorIs(t, err, twofactor.ErrInvalidCode)
	}
	require.EqualValues(t, 2, e.fails(t))
	_, err := e.verify(id, wrong[2])
	require.ErrorIs(t, err, twofactor.ErrLocked, "the third wrong code in a row, locked out")
	require.EqualValues(t, 2, e.fails(t), "a refused answer is not counted")

	e.clock.Advance(time.Minute + time.Second) // the lockout is over; the mark's window is not
	_, err = e.verify(id, wrong[2])
	require.ErrorIs(t, err, twofactor.ErrInvalidCode)
	assert.EqualValues(t, 3, e.fails(t), "the guess refused while locked out counts when it reaches the code")

	res, err := e.verify(e.begin(t), e.codes[0])
	require.NoError(t, err, "the right code")
	require.NotNil(t, res)
	assert.Zero(t, e.fails(t), "and it ends the run")
}

// Through the Service a backup code found only under an earlier key of
// the ring (after a rotation) is let in and counted as a use of the set,
// in two more round trips; a code of the current key costs none.
func TestBackupCodeAfterRotation(t *testing.T) {
	a, err := keyring.GenerateKey("a")
	require.NoError(t, err)
	b, err := keyring.GenerateKey("b")
	require.NoError(t, err)
	onlyA, err := keyring.New(a)
	require.NoError(t, err)
	rotated, err := keyring.New(b, a)
	require.NoError(t, err)

	e := newBackupEnv(t, twofactor.Limits{}, onlyA, nil)
	e.enroll(t)
	before := e.spy.Calls.Load()
	res, err := e.verify(e.begin(t), e.codes[0])
	require.NoError(t, err)
	assert.EqualValues(t, 3, e.spy.Calls.Load()-before, "Begin, the count with the check, the end")
	require.NotNil(t, res)
	assert.EqualValues(t, 9, e.left.Load())

	// A second Service on the same store, its ring rotated.
	e.svc, err = twofactor.New(twofactor.Config{Store: e.spy, Keys: rotated, Now: e.clock.Now,
		Events: e.sink(), Factors: []twofactor.FactorConfig{backupcodes.Config{}}})
	require.NoError(t, err)
	for i, left := range []int64{8, 7} {
		id := e.begin(t)
		before = e.spy.Calls.Load()
		res, err := e.verify(id, e.codes[1+i])
		require.NoError(t, err, "a code made under the earlier key")
		require.NotNil(t, res)
		assert.EqualValues(t, 4, e.spy.Calls.Load()-before, "the count with the check, the earlier key's lookup, the use's count, the end")
		assert.Equal(t, left, e.left.Load(), "the use was counted")
	}
	_, err = e.verify(e.begin(t), e.codes[1])
	require.ErrorIs(t, err, twofactor.ErrInvalidCode, "once")
}

// badChecks is the backup codes factor with checks whose If names no
// check before it.
type badChecks struct {
	*backupcodes.Factor
	cond int
}

func (f badChecks) CheckOps(ch *twofactor.Challenge, answer string) ([]store.Op, error) {
	ops, err := f.Factor.CheckOps(ch, answer)
	if err == nil {
		ops[1].If = f.cond
	}
	return ops, err
}

type badChecksConfig struct{ cond int }

func (c badChecksConfig) NewFactor(env twofactor.Env) (twofactor.Factor, error) {
	f, err := backupcodes.New(env, backupcodes.Config{})
	return badChecks{f, c.cond}, err
}

// A BatchVerifier's check whose If names itself, a later check or none
// fails the answer as a system error before the store runs anything: it
// never names one of the Service's own operations, nor (an If of minus
// the count's position) becomes no condition at all, which would run the
// check for a locked-out user.
func TestBatchVerifierIfChecked(t *testing.T) {
	for _, cond := range []int{-1, -2, -3, 2, 3} {
		e := newBackupEnv(t, twofactor.Limits{}, newKeys(t), badChecksConfig{cond})
		e.enroll(t)
		id := e.begin(t)
		res, err := e.verify(id, e.codes[0])
		require.Error(t, err, "If %d", cond)
		require.NotErrorIs(t, err, twofactor.ErrInvalidCode, "If %d", cond)
		require.Nil(t, res)
		assert.Zero(t, e.fails(t), "If %d: nothing counted", cond)
	}
	e := newBackupEnv(t, twofactor.Limits{}, newKeys(t), badChecksConfig{1})
	e.enroll(t)
	res, err := e.verify(e.begin(t), e.codes[0])
	require.NoError(t, err, "If 1 names the first check, the submission's mark")
	require.NotNil(t, res)
}
