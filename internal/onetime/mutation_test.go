package onetime

// Tests that kill mutants gremlins found alive (make mutate; TESTING.md):
// each pins one boundary or branch of a rule.

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/internal/storespy"
	"github.com/twofactorkit/twofactor/keyring"
	"github.com/twofactorkit/twofactor/store"
)

// A cap window of exactly one minute is the shortest allowed.
func TestCapWindowOneMinute(t *testing.T) {
	env := twofactor.Env{Store: store.NewMemory(), Keys: testKeys(t)}
	_, err := New("test", env, Config{Channel: "c", CapDefaults: testCaps, Caps: Caps{Window: time.Minute}})
	require.NoError(t, err)
	_, err = New("test", env, Config{Channel: "c", CapDefaults: testCaps, Caps: Caps{Window: time.Minute - time.Nanosecond}})
	require.ErrorIs(t, err, twofactor.ErrConfig)
}

// The country in a counter key: one to three capital letters or digits,
// the characters either side of each range refused.
func TestValidCountryBounds(t *testing.T) {
	for _, c := range []string{"", "A", "Z", "0", "9", "GB", "001", "ZZ9", "A0Z"} {
		assert.True(t, validCountry(c), "%q", c)
	}
	for _, c := range []string{"ABCD", "0000", "@", "[", "/", ":", "gb", "G-", " 1", "Ä"} {
		assert.False(t, validCountry(c), "%q", c)
	}
	e := newEnv(t, nil)
	r := req("g1")
	r.Country = "001"
	_, err := e.is.Issue(context.Background(), r, e.deliver)
	require.NoError(t, err, "a three-character country is counted")
	r.Country = "1234"
	_, err = e.is.Issue(context.Background(), r, e.deliver)
	require.ErrorIs(t, err, twofactor.ErrInvalidInput)
}

// An answer of exactly maxInput bytes is normalized; one byte more is
// refused before any work.
func TestNormalizeMaxInput(t *testing.T) {
	typed := strings.Repeat(" ", maxInput-6) + "123456"
	got, err := Normalize("test", typed, 6)
	require.NoError(t, err)
	assert.Equal(t, "123456", got)
	_, err = Normalize("test", " "+typed, 6)
	require.ErrorIs(t, err, twofactor.ErrInvalidInput)
	assert.Contains(t, err.Error(), "too long")
}

// Keep with max zero keeps DefaultOutboxMax messages, not none.
func TestOutboxKeepZeroMax(t *testing.T) {
	var o Outbox[int]
	for i := range DefaultOutboxMax + 1 {
		require.NoError(t, o.Keep(context.Background(), i, 0))
	}
	msgs := o.Messages()
	require.Len(t, msgs, DefaultOutboxMax)
	assert.Equal(t, 1, msgs[0], "the oldest dropped")
}

// A failure before the message was handed over is returned as it is when
// the unsent code was removed: not wrapped with a removal error.
func TestNotDeliveredErrorUnwrapped(t *testing.T) {
	e := newEnv(t, nil)
	boom := errors.New("states down")
	_, err := e.is.Issue(context.Background(), req("g1"), func(context.Context, string, time.Time) error {
		return notDelivered{boom}
	})
	require.Same(t, boom, err)
}

// failSecondGet fails the second GetEnrollment: the read just before a
// re-seal writes.
type failSecondGet struct {
	*store.Memory
	gets int
	err  error
}

func (s *failSecondGet) GetEnrollment(ctx context.Context, userID, id string) (store.EnrollmentRecord, error) {
	s.gets++
	if s.gets == 2 {
		return store.EnrollmentRecord{}, s.err
	}
	return s.Memory.GetEnrollment(ctx, userID, id)
}

// Rekey reports a failed second read instead of taking it for a changed
// record.
func TestRekeySecondReadFails(t *testing.T) {
	ctx := context.Background()
	k1, err := keyring.GenerateKey("k1")
	require.NoError(t, err)
	k2, err := keyring.GenerateKey("k2")
	require.NoError(t, err)
	old, err := keyring.New(k1)
	require.NoError(t, err)
	current, err := keyring.New(k2, k1)
	require.NoError(t, err)
	ad := []byte("test number\x00u1")
	sealed, err := old.Seal([]byte("+14155550112"), ad)
	require.NoError(t, err)
	mem := store.NewMemory()
	require.NoError(t, mem.PutEnrollment(ctx, store.EnrollmentRecord{UserID: "u1", ID: "phone", Method: "test",
		Data: []byte("head " + sealed), CreatedAt: t0}))
	layout := func(rec store.EnrollmentRecord) (string, string, []byte, bool) {
		return "head ", string(rec.Data[len("head "):]), ad, rec.Method == "test"
	}
	boom := errors.New("enrollments down")
	st := &failSecondGet{Memory: mem, err: boom}
	r, err := NewRecords("test", "test", twofactor.Env{Store: st, Keys: current, Now: func() time.Time { return t0 }})
	require.NoError(t, err)
	n, err := r.Rekey(ctx, "u1", "phone", layout)
	require.ErrorIs(t, err, boom)
	assert.Zero(t, n)
	rec, err := mem.GetEnrollment(ctx, "u1", "phone")
	require.NoError(t, err)
	assert.Equal(t, "head "+sealed, string(rec.Data), "not rewritten")
}

// A code that cannot be stored sends nothing: the budgets shared with
// other accounts get their count back, the cooldown is lifted, and the
// request's own caps keep theirs (it was asked for).
func TestStoreFailureGivesBackBudgetsOnly(t *testing.T) {
	ctx := context.Background()
	var spy *storespy.Spy
	e := newEnv(t, func(c *setup) {
		c.Budgets = Budgets{PerCountry: 5, Total: 5}
		spy = storespy.New(c.Store.(*store.Memory))
		c.Store = spy
	})
	spy.Fail("PutCode", errors.New("store down"))
	r := req("g1")
	r.Country = "GB"
	_, err := e.is.Issue(ctx, r, e.deliver)
	require.Error(t, err)
	peek := func(k string) int64 {
		t.Helper()
		n, _, err := e.store.Peek(ctx, k)
		require.NoError(t, err)
		return n
	}
	assert.Zero(t, peek("otc:budget:total:test"), "the total budget got its count back")
	assert.Zero(t, peek("otc:budget:country:test:GB"), "the country budget got its count back")
	assert.Zero(t, peek(e.is.cooldownKey(r)), "no cooldown")
	assert.Equal(t, int64(1), peek("otc:cap:user:test:u1"), "the user's own cap keeps the request")
}
