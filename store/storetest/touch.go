package storetest

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor/store"
)

func (h *harness) enrollmentToucher(t *testing.T) {
	s, clk, k, ctx := setup[enrollTouchStore](h, t)
	u := k("user")
	t0 := clk.Now()
	e := store.EnrollmentRecord{UserID: u, ID: "totp", Method: "totp", Label: "Phone", Data: []byte{0, 1, 2, 0xff}, CreatedAt: t0}
	other := store.EnrollmentRecord{UserID: u, ID: "key", Method: "webauthn", Label: "YubiKey", Data: []byte("k"), CreatedAt: t0, LastUsedAt: t0}
	otherUser := store.EnrollmentRecord{UserID: k("other"), ID: "totp", Method: "totp", Data: []byte("o"), CreatedAt: t0}
	check := func(want store.EnrollmentRecord, msg string) {
		t.Helper()
		got, err := s.GetEnrollment(ctx, want.UserID, want.ID)
		require.NoError(t, err, msg)
		assertEnrollment(t, want, got)
		requireUsed(t, want.LastUsedAt, got, msg)
	}

	require.NoError(t, s.TouchEnrollment(ctx, u, "totp", t0), "touching a missing record is not an error")
	_, err := s.GetEnrollment(ctx, u, "totp")
	require.ErrorIs(t, err, store.ErrNotFound, "TouchEnrollment created a record")
	list, err := s.ListEnrollments(ctx, u)
	require.NoError(t, err)
	require.Empty(t, list, "TouchEnrollment created a record")

	for _, r := range []store.EnrollmentRecord{e, other, otherUser} {
		require.NoError(t, s.PutEnrollment(ctx, r))
	}
	used := t0.Add(time.Minute)
	require.NoError(t, s.TouchEnrollment(ctx, u, "totp", used))
	e.LastUsedAt = used
	check(e, "the first touch sets LastUsedAt and leaves every other field")
	check(other, "another record of the user is untouched")
	check(otherUser, "another user's record with the same id is untouched")

	require.NoError(t, s.TouchEnrollment(ctx, u, "totp", used.Add(-time.Second)))
	check(e, "an earlier time does not move LastUsedAt back")
	require.NoError(t, s.TouchEnrollment(ctx, u, "totp", used))
	check(e, "the same time leaves LastUsedAt")
	require.NoError(t, s.TouchEnrollment(ctx, u, "totp", time.Time{}))
	check(e, "the zero time is not later than anything")

	used = used.Add(time.Millisecond)
	require.NoError(t, s.TouchEnrollment(ctx, u, "totp", used))
	e.LastUsedAt = used
	check(e, "a time a millisecond later moves LastUsedAt")

	// Times compare as instants, whatever their zone: a wall clock that
	// reads later in a zone east of UTC may be an earlier instant.
	east, west := time.FixedZone("east", 5*3600+30*60), time.FixedZone("west", -5*3600)
	require.NoError(t, s.TouchEnrollment(ctx, u, "totp", used.Add(-time.Hour).In(east)))
	check(e, "an earlier instant in a zone east of UTC")
	used = used.Add(time.Hour).In(west)
	require.NoError(t, s.TouchEnrollment(ctx, u, "totp", used))
	e.LastUsedAt = used
	check(e, "a later instant in a zone west of UTC")
	require.NoError(t, s.TouchEnrollment(ctx, u, "totp", used.Add(-time.Millisecond).In(time.UTC)))
	check(e, "an earlier instant after a time stored in a zone west of UTC")

	// A record written with a LastUsedAt in another zone is compared as
	// the instant it names.
	other.LastUsedAt = t0.Add(2 * time.Hour).In(east)
	require.NoError(t, s.PutEnrollment(ctx, other))
	require.NoError(t, s.TouchEnrollment(ctx, u, "key", t0.Add(time.Hour).In(west)))
	check(other, "a touch earlier than a LastUsedAt written in another zone")
	other.LastUsedAt = t0.Add(3 * time.Hour)
	require.NoError(t, s.TouchEnrollment(ctx, u, "key", other.LastUsedAt))
	check(other, "a touch later than a LastUsedAt written in another zone")

	// A write of the whole record stays authoritative: PutEnrollment may
	// set an earlier LastUsedAt, and touches go on from it.
	e.Label, e.LastUsedAt = "Renamed", t0
	require.NoError(t, s.PutEnrollment(ctx, e))
	check(e, "PutEnrollment replaces LastUsedAt")
	used = t0.Add(time.Second)
	require.NoError(t, s.TouchEnrollment(ctx, u, "totp", used))
	e.LastUsedAt = used
	check(e, "a touch after PutEnrollment keeps its label")

	require.NoError(t, s.DeleteEnrollment(ctx, u, "totp"))
	require.NoError(t, s.TouchEnrollment(ctx, u, "totp", used.Add(time.Hour)), "touching a removed record is not an error")
	_, err = s.GetEnrollment(ctx, u, "totp")
	require.ErrorIs(t, err, store.ErrNotFound, "TouchEnrollment brought back a removed record")
	list, err = s.ListEnrollments(ctx, u)
	require.NoError(t, err)
	require.Len(t, list, 1, "only the user's other record is left")
	assertEnrollment(t, other, list[0])
}

// raceTouchLatest starts Goroutines touches of one record, each with a
// time of its own, in no particular order: the latest time must stay, and
// the rest of the record with it.
func (h *harness) raceTouchLatest(t *testing.T, s enrollTouchStore, k func(string) string, t0 time.Time) {
	ctx := t.Context()
	for r := 0; r < h.opt.Rounds/5+1; r++ {
		e := store.EnrollmentRecord{UserID: k(fmt.Sprintf("race-touch-%d", r)), ID: "totp", Method: "totp", Label: "Phone", Data: []byte("d"), CreatedAt: t0}
		require.NoError(t, s.PutEnrollment(ctx, e))
		var next atomic.Int64
		h.race(t, func() (bool, error) {
			// Goroutines take their times in the order they start, which
			// the scheduler mixes; odd ones count down from the top, so
			// late starters also hold early times.
			i := next.Add(1)
			if i%2 == 1 {
				i = int64(h.opt.Goroutines) + 1 - i
			}
			return true, s.TouchEnrollment(ctx, e.UserID, e.ID, t0.Add(time.Duration(i)*time.Millisecond))
		})
		got, err := s.GetEnrollment(ctx, e.UserID, e.ID)
		require.NoError(t, err)
		e.LastUsedAt = t0.Add(time.Duration(h.opt.Goroutines) * time.Millisecond)
		requireUsed(t, e.LastUsedAt, got, fmt.Sprintf("round %d: racing touches must end at the latest time", r))
		assertEnrollment(t, e, got)
	}
}

// raceTouchRename renames a record a few times while every other
// goroutine touches it, each rename after a batch of touches so that it
// lands among touches in flight, and the touchers go on until the renames
// are over and once more after. Each touch writes only the last-use time,
// so the last name and data must stay, and the touches after the renames
// must still set the time.
func (h *harness) raceTouchRename(t *testing.T, s enrollTouchStore, k func(string) string, t0 time.Time) {
	ctx := t.Context()
	const renames = 5
	batch := int64(h.opt.Goroutines / 2)
	for r := 0; r < h.opt.Rounds/5+1; r++ {
		e := store.EnrollmentRecord{UserID: k(fmt.Sprintf("race-rename-%d", r)), ID: "key", Method: "webauthn", Label: "label-0", Data: []byte("data-0"), CreatedAt: t0, LastUsedAt: t0}
		require.NoError(t, s.PutEnrollment(ctx, e))
		var next, touches, after, touchers atomic.Int64
		var renamed atomic.Bool
		touchers.Store(int64(h.opt.Goroutines - 1))
		h.race(t, func() (bool, error) {
			i := next.Add(1)
			if i == 1 {
				defer renamed.Store(true)
				for j := 1; j <= renames; j++ {
					for seen := touches.Load(); touches.Load() < seen+batch && touchers.Load() > 0; {
						runtime.Gosched()
					}
					re := e
					re.Label, re.Data = fmt.Sprintf("label-%d", j), fmt.Appendf(nil, "data-%d", j)
					if err := s.PutEnrollment(ctx, re); err != nil {
						return false, err
					}
				}
				return true, nil
			}
			defer touchers.Add(-1)
			// Touch until the renames are over, then once more (with a
			// bound, should the renames be slow).
			for n := int64(0); n < 1000; n++ {
				done := renamed.Load()
				if err := s.TouchEnrollment(ctx, e.UserID, e.ID, t0.Add(time.Duration(n*1000+i)*time.Millisecond)); err != nil {
					return false, err
				}
				touches.Add(1)
				if done {
					after.Add(1)
					break
				}
				runtime.Gosched() // let the renamer in, on a store that never blocks
			}
			return true, nil
		})
		got, err := s.GetEnrollment(ctx, e.UserID, e.ID)
		require.NoError(t, err)
		require.Equal(t, fmt.Sprintf("label-%d", renames), got.Label, "round %d: a touch undid a rename", r)
		require.Equal(t, fmt.Appendf(nil, "data-%d", renames), got.Data, "round %d: a touch undid a rewrite of Data", r)
		require.Equal(t, e.Method, got.Method, "round %d", r)
		assertTime(t, e.CreatedAt, got.CreatedAt, "CreatedAt")
		if after.Load() > 0 {
			require.True(t, got.LastUsedAt.After(t0), "round %d: the touches after the renames did not set LastUsedAt (%v)", r, got.LastUsedAt)
		}
	}
}

// requireUsed checks that got.LastUsedAt is the instant want. The tests of
// TouchEnrollment use whole milliseconds, which every store keeps, so
// that a time one millisecond off is a failure.
func requireUsed(t *testing.T, want time.Time, got store.EnrollmentRecord, msg string) {
	t.Helper()
	require.True(t, want.Equal(got.LastUsedAt), "%s: LastUsedAt is %v, want %v", msg, got.LastUsedAt, want)
}
