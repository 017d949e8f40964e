package storetest

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor/store"
)

// enrollmentToucher checks TouchEnrollment in steps on one store, each a
// method of touchCase: a touch creates no record, moves LastUsedAt only
// forward and leaves the rest of the record, compares times as instants
// whatever their zone, yields to PutEnrollment, and does not bring back a
// deleted record.
func (h *harness) enrollmentToucher(t *testing.T) {
	s, clk, k, ctx := setup[enrollTouchStore](h, t)
	u := k("user")
	t0 := clk.Now()
	c := &touchCase{s: s, ctx: ctx, u: u, t0: t0,
		e:         store.EnrollmentRecord{UserID: u, ID: "totp", Method: "totp", Label: "Phone", Data: []byte{0, 1, 2, 0xff}, CreatedAt: t0},
		other:     store.EnrollmentRecord{UserID: u, ID: "key", Method: "webauthn", Label: "YubiKey", Data: []byte("k"), CreatedAt: t0, LastUsedAt: t0},
		otherUser: store.EnrollmentRecord{UserID: k("other"), ID: "totp", Method: "totp", Data: []byte("o"), CreatedAt: t0},
	}
	c.missing(t)
	c.forward(t)
	c.zones(t)
	c.afterPut(t)
	c.deleted(t)
}

// touchCase is what the steps of enrollmentToucher share: the store, the
// user u, the time t0 the records were created, and the records as the
// store should hold them once forward has put them: e, the one the steps
// touch, other, another record of u, and otherUser, another user's record
// with e's id. Each step updates them as it changes the store, so the next
// step's times are relative to the LastUsedAt the store holds.
type touchCase struct {
	s                   enrollTouchStore
	ctx                 context.Context
	u                   string
	t0                  time.Time
	e, other, otherUser store.EnrollmentRecord
}

// check requires the store's record of want's user and id to be want,
// LastUsedAt to the exact instant.
func (c *touchCase) check(t *testing.T, want store.EnrollmentRecord, msg string) {
	t.Helper()
	got, err := c.s.GetEnrollment(c.ctx, want.UserID, want.ID)
	require.NoError(t, err, msg)
	assertEnrollment(t, want, got)
	requireUsed(t, want.LastUsedAt, got, msg)
}

// touch touches the record id of the case's user with at, requiring no
// error.
func (c *touchCase) touch(t *testing.T, id string, at time.Time, msgAndArgs ...any) {
	t.Helper()
	require.NoError(t, c.s.TouchEnrollment(c.ctx, c.u, id, at), msgAndArgs...)
}

// missing checks that touching a record that does not exist creates none.
func (c *touchCase) missing(t *testing.T) {
	c.touch(t, "totp", c.t0, "touching a missing record is not an error")
	_, err := c.s.GetEnrollment(c.ctx, c.u, "totp")
	require.ErrorIs(t, err, store.ErrNotFound, "TouchEnrollment created a record")
	list, err := c.s.ListEnrollments(c.ctx, c.u)
	require.NoError(t, err)
	require.Empty(t, list, "TouchEnrollment created a record")
}

// forward stores the case's three records, and checks that a touch sets
// LastUsedAt of its record alone, and only to a later time: an earlier,
// equal or zero time leaves it, one a millisecond later moves it.
func (c *touchCase) forward(t *testing.T) {
	for _, r := range []store.EnrollmentRecord{c.e, c.other, c.otherUser} {
		require.NoError(t, c.s.PutEnrollment(c.ctx, r))
	}
	used := c.t0.Add(time.Minute)
	c.touch(t, "totp", used)
	c.e.LastUsedAt = used
	c.check(t, c.e, "the first touch sets LastUsedAt and leaves every other field")
	c.check(t, c.other, "another record of the user is untouched")
	c.check(t, c.otherUser, "another user's record with the same id is untouched")

	c.touch(t, "totp", used.Add(-time.Second))
	c.check(t, c.e, "an earlier time does not move LastUsedAt back")
	c.touch(t, "totp", used)
	c.check(t, c.e, "the same time leaves LastUsedAt")
	c.touch(t, "totp", time.Time{})
	c.check(t, c.e, "the zero time is not later than anything")

	used = used.Add(time.Millisecond)
	c.touch(t, "totp", used)
	c.e.LastUsedAt = used
	c.check(t, c.e, "a time a millisecond later moves LastUsedAt")
}

// zones checks that times compare as instants, whatever their zone: a
// wall clock that reads later in a zone east of UTC may be an earlier
// instant. That holds for the time of a touch and for a LastUsedAt
// written by PutEnrollment in another zone.
func (c *touchCase) zones(t *testing.T) {
	east, west := time.FixedZone("east", 5*3600+30*60), time.FixedZone("west", -5*3600)
	c.touch(t, "totp", c.e.LastUsedAt.Add(-time.Hour).In(east))
	c.check(t, c.e, "an earlier instant in a zone east of UTC")
	used := c.e.LastUsedAt.Add(time.Hour).In(west)
	c.touch(t, "totp", used)
	c.e.LastUsedAt = used
	c.check(t, c.e, "a later instant in a zone west of UTC")
	c.touch(t, "totp", used.Add(-time.Millisecond).In(time.UTC))
	c.check(t, c.e, "an earlier instant after a time stored in a zone west of UTC")

	// A record written with a LastUsedAt in another zone is compared as
	// the instant it names.
	c.other.LastUsedAt = c.t0.Add(2 * time.Hour).In(east)
	require.NoError(t, c.s.PutEnrollment(c.ctx, c.other))
	c.touch(t, "key", c.t0.Add(time.Hour).In(west))
	c.check(t, c.other, "a touch earlier than a LastUsedAt written in another zone")
	c.other.LastUsedAt = c.t0.Add(3 * time.Hour)
	c.touch(t, "key", c.other.LastUsedAt)
	c.check(t, c.other, "a touch later than a LastUsedAt written in another zone")
}

// afterPut checks that a write of the whole record stays authoritative:
// PutEnrollment may set an earlier LastUsedAt, and touches go on from it.
func (c *touchCase) afterPut(t *testing.T) {
	c.e.Label, c.e.LastUsedAt = "Renamed", c.t0
	require.NoError(t, c.s.PutEnrollment(c.ctx, c.e))
	c.check(t, c.e, "PutEnrollment replaces LastUsedAt")
	used := c.t0.Add(time.Second)
	c.touch(t, "totp", used)
	c.e.LastUsedAt = used
	c.check(t, c.e, "a touch after PutEnrollment keeps its label")
}

// deleted checks that touching a deleted record does not bring it back,
// and leaves the user's other record.
func (c *touchCase) deleted(t *testing.T) {
	require.NoError(t, c.s.DeleteEnrollment(c.ctx, c.u, "totp"))
	c.touch(t, "totp", c.e.LastUsedAt.Add(time.Hour), "touching a removed record is not an error")
	_, err := c.s.GetEnrollment(c.ctx, c.u, "totp")
	require.ErrorIs(t, err, store.ErrNotFound, "TouchEnrollment brought back a removed record")
	list, err := c.s.ListEnrollments(c.ctx, c.u)
	require.NoError(t, err)
	require.Len(t, list, 1, "only the user's other record is left")
	assertEnrollment(t, c.other, list[0])
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
