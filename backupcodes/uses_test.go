package backupcodes

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/internal/storespy"
	"github.com/twofactorkit/twofactor/keyring"
	"github.com/twofactorkit/twofactor/store"
)

// usesEnv is a memory store and keyring shared by factors of several
// configurations, as app instances before and after a change of Count,
// and the EventLow events they emit.
type usesEnv struct {
	mem  *store.Memory
	keys *keyring.Ring
	mu   sync.Mutex
	lows []string
	warn []string
}

func newUsesEnv(t *testing.T) *usesEnv {
	key, err := keyring.GenerateKey("k1")
	require.NoError(t, err)
	keys, err := keyring.New(key)
	require.NoError(t, err)
	return &usesEnv{mem: store.NewMemory(), keys: keys}
}

func (ue *usesEnv) factor(t *testing.T, st store.Store, count int) *Factor {
	events := &event.Sink{Discard: true,
		Hook: func(_ context.Context, ev event.Event) {
			ue.mu.Lock()
			defer ue.mu.Unlock()
			switch ev.Type {
			case EventLow:
				ue.lows = append(ue.lows, strconv.Itoa(ev.Count))
			case event.Warning:
				ue.warn = append(ue.warn, string(ev.Reason))
			}
		}}
	f, err := New(twofactor.Env{Store: st, Keys: ue.keys, Events: events}, Config{Count: count})
	require.NoError(t, err)
	return f
}

// useAll verifies every code with f and returns, for each use, the count
// of codes left that its EventLow reported ("" for a use that emitted
// none).
func (ue *usesEnv) useAll(t *testing.T, f *Factor, u twofactor.User, codes []string) []string {
	var remaining []string
	for _, c := range codes {
		ue.mu.Lock()
		before := len(ue.lows)
		ue.mu.Unlock()
		v, err := f.Verify(context.Background(), &twofactor.Challenge{ID: "c", User: u}, c)
		require.NoError(t, err)
		assert.NotContains(t, v.Details, "remaining", "the count is the event's, not a detail")
		ue.mu.Lock()
		low := ""
		if len(ue.lows) > before {
			low = ue.lows[len(ue.lows)-1]
		}
		ue.mu.Unlock()
		remaining = append(remaining, low)
	}
	return remaining
}

// A set made under another Count is counted in the store on every use, so
// the low-codes event says what is really left.
func TestUsesOfASetOfAnotherSize(t *testing.T) {
	ctx := context.Background()
	ue := newUsesEnv(t)
	u := twofactor.User{ID: "alice"}
	en, err := ue.factor(t, ue.mem, 4).BeginEnroll(ctx, u, twofactor.EnrollRequest{})
	require.NoError(t, err)
	now := ue.factor(t, ue.mem, 6) // the setting changed since
	assert.Equal(t, []string{"", "2", "1", "0"}, ue.useAll(t, now, u, en.Codes))
	assert.Equal(t, []string{"2", "1", "0"}, ue.lows)
}

// A set stored without a count of its uses (made before the count
// existed) is counted in the store on every use.
func TestUsesWithoutCounter(t *testing.T) {
	ctx := context.Background()
	ue := newUsesEnv(t)
	f := ue.factor(t, ue.mem, 4)
	u := twofactor.User{ID: "alice"}
	plain, hashed, err := f.newSet(u.ID, 4)
	require.NoError(t, err)
	for _, c := range hashed {
		require.NoError(t, ue.mem.PutCode(ctx, c))
	}
	// The tally record such a set came with.
	require.NoError(t, ue.mem.PutCode(ctx, store.Code{Group: legacyTallyGroup(u.ID), Key: "uses", Hash: []byte("tally"), MaxAttempts: 1}))
	assert.Equal(t, []string{"", "2", "1", "0"}, ue.useAll(t, f, u, plain))

	_, err = f.BeginEnroll(ctx, u, twofactor.EnrollRequest{})
	require.NoError(t, err)
	n, err := ue.mem.CountGroup(ctx, legacyTallyGroup(u.ID))
	require.NoError(t, err)
	assert.Zero(t, n, "a new set deletes the old tally")
}

// A change of Count and back does not bring back the count of an old
// set: a new set drops the old set's count.
func TestUsesAfterCountChangedBack(t *testing.T) {
	ctx := context.Background()
	ue := newUsesEnv(t)
	u := twofactor.User{ID: "alice"}
	four, six := ue.factor(t, ue.mem, 4), ue.factor(t, ue.mem, 6)
	en, err := four.BeginEnroll(ctx, u, twofactor.EnrollRequest{})
	require.NoError(t, err)
	assert.Equal(t, []string{"", "2"}, ue.useAll(t, four, u, en.Codes[:2]))
	en, err = six.BeginEnroll(ctx, u, twofactor.EnrollRequest{})
	require.NoError(t, err)
	// Back to 4: the set of 6 is counted in the store.
	assert.Equal(t, []string{"", "", "", "2", "1", "0"}, ue.useAll(t, four, u, en.Codes))

	// A set of 4 used twice, removed with Count 6 in place; then codes
	// stored without a count (as a set made before counts existed) and
	// used with Count 4 again: counted in the store, not on the old count.
	en, err = four.BeginEnroll(ctx, u, twofactor.EnrollRequest{})
	require.NoError(t, err)
	ue.useAll(t, four, u, en.Codes[:2])
	require.NoError(t, six.RemoveAll(ctx, u))
	plain, hashed, err := four.newSet(u.ID, 4)
	require.NoError(t, err)
	for _, c := range hashed {
		require.NoError(t, ue.mem.PutCode(ctx, c))
	}
	assert.Equal(t, []string{"", "2", "1", "0"}, ue.useAll(t, four, u, plain), "removal drops the count too")
}

// failing is a memory store whose count of a group fails when told to.
type failing struct {
	*store.Memory
	countGroup bool
}

var errBoom = errors.New("store unavailable")

func (s failing) CountGroup(ctx context.Context, group string) (int, error) {
	if s.countGroup {
		return 0, errBoom
	}
	return s.Memory.CountGroup(ctx, group)
}

// Once a code matched it is consumed and the user is in; failing to count
// what is left (with no count of the set's uses, the codes are counted)
// is reported as a warning and does not undo the decision (the use itself
// is the Service's to record).
func TestFailuresAfterMatch(t *testing.T) {
	ctx := context.Background()
	ue := newUsesEnv(t)
	st := &failing{Memory: ue.mem}
	f := ue.factor(t, st, 0)
	u := twofactor.User{ID: "alice"}
	en, err := f.BeginEnroll(ctx, u, twofactor.EnrollRequest{})
	require.NoError(t, err)
	require.NoError(t, ue.mem.ResetCounter(ctx, usesKey(10, u.ID)))
	st.countGroup = true
	v, err := f.Verify(ctx, &twofactor.Challenge{ID: "c", User: u}, en.Codes[0])
	require.NoError(t, err)
	assert.Empty(t, v.Details)
	assert.Equal(t, []string{"count_failed"}, ue.warn)
	st.countGroup = false
	n, err := f.Remaining(ctx, u)
	require.NoError(t, err)
	assert.Equal(t, 9, n)
}

// A set record that does not decode does not stop a new set, or the
// removal of the set.
func TestUndecodableSetRecord(t *testing.T) {
	ctx := context.Background()
	ue := newUsesEnv(t)
	f := ue.factor(t, ue.mem, 0)
	u := twofactor.User{ID: "alice"}
	_, err := f.BeginEnroll(ctx, u, twofactor.EnrollRequest{})
	require.NoError(t, err)
	rec, err := ue.mem.GetEnrollment(ctx, u.ID, EnrollmentBackupCodes)
	require.NoError(t, err)
	rec.Data = []byte("{")
	require.NoError(t, ue.mem.PutEnrollment(ctx, rec))
	en, err := f.BeginEnroll(ctx, u, twofactor.EnrollRequest{})
	require.NoError(t, err)
	assert.Len(t, en.Codes, DefaultCount)
	require.NoError(t, ue.mem.PutEnrollment(ctx, rec))
	require.NoError(t, f.RemoveAll(ctx, u))
	n, err := f.Remaining(ctx, u)
	require.NoError(t, err)
	assert.Zero(t, n)
}

// A use is counted in the lookup's own round trip, on the condition that
// the code matched: wrong codes, a replay and a code of another set take
// no use, each in one round trip with nothing to give back, and leave the
// count of codes left as the right ones make it; the login by a right
// code is one store round trip.
func TestWrongCodesCountNoUse(t *testing.T) {
	ctx := context.Background()
	ue := newUsesEnv(t)
	spy := storespy.New(ue.mem)
	f := ue.factor(t, spy, 0)
	u := twofactor.User{ID: "alice"}
	en, err := f.BeginEnroll(ctx, u, twofactor.EnrollRequest{})
	require.NoError(t, err)
	ch := &twofactor.Challenge{ID: "c", User: u}
	verify := func(code string) (twofactor.Verified, error) { return f.Verify(ctx, ch, code) }

	before := spy.Calls.Load()
	v, err := verify(en.Codes[0])
	require.NoError(t, err)
	assert.Equal(t, 9, v.Count)
	assert.EqualValues(t, 1, spy.Calls.Load()-before, "one round trip")

	bobs, err := f.BeginEnroll(ctx, twofactor.User{ID: "bob"}, twofactor.EnrollRequest{})
	require.NoError(t, err)
	before = spy.Calls.Load()
	for _, wrong := range []string{bobs.Codes[0], bobs.Codes[1], en.Codes[0]} { // well formed, so each reaches the store

		_, err := verify(wrong)
		require.ErrorIs(t, err, twofactor.ErrInvalidCode, wrong)
	}
	assert.EqualValues(t, 3, spy.Calls.Load()-before, "each wrong code: the lookup alone")
	before = spy.Calls.Load()
	v, err = verify(en.Codes[1])
	require.NoError(t, err)
	assert.EqualValues(t, 1, spy.Calls.Load()-before, "the count of uses was kept, not dropped")
	assert.Equal(t, 8, v.Count, "the wrong codes took no use")
	n, err := f.Remaining(ctx, u)
	require.NoError(t, err)
	assert.Equal(t, 8, n)
}

// Once the last code of a set is used, the set's record goes, so Begin
// (Offered) no longer offers a set that can only refuse, as Enrollments
// no longer lists it; a new set is offered again. A record removed while
// a new set was being made is put back. Without a count of the codes left
// (a negative LowThreshold) the used-up set stays offered.
func TestUsedUpSetNotOffered(t *testing.T) {
	ctx := context.Background()
	ue := newUsesEnv(t)
	u := twofactor.User{ID: "alice"}
	offered := func(f *Factor) bool {
		t.Helper()
		recs, err := ue.mem.ListEnrollments(ctx, u.ID)
		require.NoError(t, err)
		ok, err := f.Offered(u, func() ([]store.EnrollmentRecord, error) { return recs, nil })
		require.NoError(t, err)
		return ok
	}
	f := ue.factor(t, ue.mem, 3)
	en, err := f.BeginEnroll(ctx, u, twofactor.EnrollRequest{})
	require.NoError(t, err)
	ue.useAll(t, f, u, en.Codes[:2])
	require.True(t, offered(f), "one code left")
	ue.useAll(t, f, u, en.Codes[2:])
	assert.False(t, offered(f), "every code used")
	es, err := f.Enrollments(ctx, u)
	require.NoError(t, err)
	assert.Empty(t, es)
	assert.Empty(t, ue.warn)

	_, err = f.BeginEnroll(ctx, u, twofactor.EnrollRequest{})
	require.NoError(t, err)
	require.True(t, offered(f), "a new set")
	rec, err := ue.mem.GetEnrollment(ctx, u.ID, EnrollmentBackupCodes)
	require.NoError(t, err)
	require.NoError(t, f.retireSet(ctx, u.ID), "the old set's last use, racing the new set")
	assert.True(t, offered(f), "the new set's record is put back")
	again, err := ue.mem.GetEnrollment(ctx, u.ID, EnrollmentBackupCodes)
	require.NoError(t, err)
	assert.Equal(t, rec.Data, again.Data, "with the set's size")

	uncounted, err := New(twofactor.Env{Store: ue.mem, Keys: ue.keys, Events: &event.Sink{Discard: true}}, Config{Count: 2, LowThreshold: -1})
	require.NoError(t, err)
	en, err = uncounted.BeginEnroll(ctx, u, twofactor.EnrollRequest{})
	require.NoError(t, err)
	for _, c := range en.Codes {
		_, err := uncounted.Verify(ctx, &twofactor.Challenge{ID: "c", User: u}, c)
		require.NoError(t, err)
	}
	assert.True(t, offered(uncounted), "no count of the codes left: still offered")
}

// A failure to remove a used-up set's record does not undo the use: it is
// a warning, and the set stays offered.
func TestUsedUpSetRecordFailure(t *testing.T) {
	ctx := context.Background()
	ue := newUsesEnv(t)
	u := twofactor.User{ID: "alice"}
	spy := storespy.New(ue.mem)
	f := ue.factor(t, spy, 1)
	en, err := f.BeginEnroll(ctx, u, twofactor.EnrollRequest{})
	require.NoError(t, err)
	spy.Fail("DeleteEnrollment", errors.New("store is down"))
	v, err := f.Verify(ctx, &twofactor.Challenge{ID: "c", User: u}, en.Codes[0])
	require.NoError(t, err)
	assert.Zero(t, v.Count)
	assert.Equal(t, []string{string(ReasonLastUseFailed)}, ue.warn)
	_, err = ue.mem.GetEnrollment(ctx, u.ID, EnrollmentBackupCodes)
	require.NoError(t, err, "the record stays")
}
