// Package storetest is the conformance suite for store.Store
// implementations. Every store of this module runs it, and a host that
// writes its own store runs it too:
//
//	func TestMyStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T, now func() time.Time) store.Store {
//			return mystore.New(db, mystore.Options{Now: now})
//		})
//	}
//
// The factory must return a store that uses now as its clock and is empty,
// or at least shares no keys with other calls (the suite uses random key
// prefixes, so a shared database is fine). The suite advances the clock
// itself; it never sleeps.
//
// Race tests start Goroutines goroutines against one key and repeat Rounds
// times, asserting exactly one winner and exact counts.
package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor/store"
)

// Factory returns a store that uses now as its clock.
type Factory func(t *testing.T, now func() time.Time) store.Store

// Options tune the suite. The zero value is the full suite.
type Options struct {
	// Goroutines racing on one key. Zero means 64.
	Goroutines int
	// Rounds each race test repeats. Zero means 50.
	Rounds int
}

// Clock is a manual clock, safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock set to t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Run runs the whole suite with default options.
func Run(t *testing.T, newStore Factory) { RunWith(t, newStore, Options{}) }

// RunWith runs the whole suite.
func RunWith(t *testing.T, newStore Factory, opt Options) {
	if opt.Goroutines == 0 {
		opt.Goroutines = 64
	}
	if opt.Rounds == 0 {
		opt.Rounds = 50
	}
	h := &harness{newStore: newStore, opt: opt}
	t.Run("States", h.states)
	t.Run("Codes", h.codes)
	t.Run("CodeGroups", h.codeGroups)
	t.Run("Counters", h.counters)
	t.Run("Ledger", h.ledger)
	t.Run("Enrollments", h.enrollments)
	t.Run("Devices", h.devices)
	t.Run("BatchCounters", h.batchCounters)
	t.Run("Races", h.races)
	t.Run("Sweep", h.sweep)
	t.Run("CanceledContext", h.canceled)
}

type harness struct {
	newStore Factory
	opt      Options
}

// start is a fixed instant with sub-second precision that every store must
// keep to at least the millisecond.
var start = time.Date(2026, 3, 14, 15, 9, 26, 535_000_000, time.UTC)

func (h *harness) setup(t *testing.T) (store.Store, *Clock, func(string) string, context.Context) {
	t.Helper()
	clk := NewClock(start)
	s := h.newStore(t, clk.Now)
	require.NotNil(t, s, "factory returned nil")
	var b [6]byte
	_, _ = rand.Read(b[:])
	prefix := "st" + hex.EncodeToString(b[:]) + ":"
	return s, clk, func(k string) string { return prefix + k }, context.Background()
}

func (h *harness) states(t *testing.T) {
	s, clk, k, ctx := h.setup(t)
	exp := clk.Now().Add(time.Minute)

	_, err := s.GetState(ctx, k("missing"))
	require.ErrorIs(t, err, store.ErrNotFound, "GetState of a missing key")
	_, err = s.TakeState(ctx, k("missing"))
	require.ErrorIs(t, err, store.ErrNotFound, "TakeState of a missing key")
	require.NoError(t, s.DeleteState(ctx, k("missing")), "deleting a missing key is not an error")

	require.NoError(t, s.PutState(ctx, k("a"), []byte("one"), exp))
	got, err := s.GetState(ctx, k("a"))
	require.NoError(t, err)
	assert.Equal(t, []byte("one"), got)

	require.NoError(t, s.PutState(ctx, k("a"), []byte("two"), exp), "PutState replaces")
	got, err = s.GetState(ctx, k("a"))
	require.NoError(t, err)
	assert.Equal(t, []byte("two"), got)

	got, err = s.TakeState(ctx, k("a"))
	require.NoError(t, err)
	assert.Equal(t, []byte("two"), got)
	_, err = s.TakeState(ctx, k("a"))
	require.ErrorIs(t, err, store.ErrNotFound, "TakeState twice")
	_, err = s.GetState(ctx, k("a"))
	require.ErrorIs(t, err, store.ErrNotFound, "GetState after TakeState")

	// binary values survive
	bin := []byte{0, 1, 2, 255, 254, '\n', 0}
	require.NoError(t, s.PutState(ctx, k("bin"), bin, exp))
	got, err = s.GetState(ctx, k("bin"))
	require.NoError(t, err)
	assert.Equal(t, bin, got)

	require.NoError(t, s.PutState(ctx, k("del"), []byte("x"), exp))
	require.NoError(t, s.DeleteState(ctx, k("del")))
	_, err = s.GetState(ctx, k("del"))
	require.ErrorIs(t, err, store.ErrNotFound, "GetState after DeleteState")

	// expiry
	require.NoError(t, s.PutState(ctx, k("exp"), []byte("x"), clk.Now().Add(10*time.Second)))
	clk.Advance(9 * time.Second)
	_, err = s.GetState(ctx, k("exp"))
	require.NoError(t, err, "state read 1s before expiry")
	clk.Advance(time.Second)
	_, err = s.GetState(ctx, k("exp"))
	require.ErrorIs(t, err, store.ErrNotFound, "state read at its expiry time")
	_, err = s.TakeState(ctx, k("exp"))
	require.ErrorIs(t, err, store.ErrNotFound, "TakeState of an expired state")
}

func (h *harness) codes(t *testing.T) {
	s, clk, k, ctx := h.setup(t)
	g := k("group")
	hash, other := []byte("hash-1"), []byte("hash-2")

	st, err := s.ConsumeCode(ctx, g, "email", hash)
	require.NoError(t, err)
	assert.Equal(t, store.CodeNotFound, st, "missing code")
	require.NoError(t, s.DeleteCode(ctx, g, "email"), "deleting a missing code is not an error")

	require.NoError(t, s.PutCode(ctx, store.Code{Group: g, Key: "email", Hash: hash, ExpiresAt: clk.Now().Add(time.Minute), MaxAttempts: 3}))
	st, err = s.ConsumeCode(ctx, g, "email", other)
	require.NoError(t, err)
	assert.Equal(t, store.CodeMismatch, st)
	st, err = s.ConsumeCode(ctx, g, "sms", hash)
	require.NoError(t, err)
	assert.Equal(t, store.CodeNotFound, st, "other key in the same group")
	st, err = s.ConsumeCode(ctx, k("other-group"), "email", hash)
	require.NoError(t, err)
	assert.Equal(t, store.CodeNotFound, st, "same key in another group")
	st, err = s.ConsumeCode(ctx, g, "email", hash)
	require.NoError(t, err)
	assert.Equal(t, store.CodeMatched, st)
	st, err = s.ConsumeCode(ctx, g, "email", hash)
	require.NoError(t, err)
	assert.Equal(t, store.CodeNotFound, st, "a matched code is gone")

	t.Run("MaxAttempts", func(t *testing.T) {
		require.NoError(t, s.PutCode(ctx, store.Code{Group: g, Key: "max", Hash: hash, ExpiresAt: clk.Now().Add(time.Minute), MaxAttempts: 3}))
		for i := 0; i < 3; i++ {
			st, err := s.ConsumeCode(ctx, g, "max", other)
			require.NoError(t, err)
			assert.Equal(t, store.CodeMismatch, st, "wrong answer %d", i+1)
		}
		st, err := s.ConsumeCode(ctx, g, "max", hash)
		require.NoError(t, err)
		assert.Equal(t, store.CodeExhausted, st, "right answer after MaxAttempts wrong ones")
		st, err = s.ConsumeCode(ctx, g, "max", other)
		require.NoError(t, err)
		assert.Equal(t, store.CodeExhausted, st)
	})

	t.Run("PutResetsAttempts", func(t *testing.T) {
		require.NoError(t, s.PutCode(ctx, store.Code{Group: g, Key: "re", Hash: hash, ExpiresAt: clk.Now().Add(time.Minute), MaxAttempts: 2}))
		for i := 0; i < 2; i++ {
			_, err := s.ConsumeCode(ctx, g, "re", other)
			require.NoError(t, err)
		}
		require.NoError(t, s.PutCode(ctx, store.Code{Group: g, Key: "re", Hash: other, ExpiresAt: clk.Now().Add(time.Minute), MaxAttempts: 2}))
		st, err := s.ConsumeCode(ctx, g, "re", hash)
		require.NoError(t, err)
		assert.Equal(t, store.CodeMismatch, st, "old hash after replacement")
		st, err = s.ConsumeCode(ctx, g, "re", other)
		require.NoError(t, err)
		assert.Equal(t, store.CodeMatched, st, "new hash after replacement")
	})

	t.Run("Unlimited", func(t *testing.T) {
		require.NoError(t, s.PutCode(ctx, store.Code{Group: g, Key: "unl", Hash: hash}))
		for i := 0; i < 20; i++ {
			st, err := s.ConsumeCode(ctx, g, "unl", other)
			require.NoError(t, err)
			require.Equal(t, store.CodeMismatch, st)
		}
		clk.Advance(1000 * time.Hour)
		st, err := s.ConsumeCode(ctx, g, "unl", hash)
		require.NoError(t, err)
		assert.Equal(t, store.CodeMatched, st, "a code with zero ExpiresAt and MaxAttempts never dies")
	})

	t.Run("Expiry", func(t *testing.T) {
		require.NoError(t, s.PutCode(ctx, store.Code{Group: g, Key: "exp", Hash: hash, ExpiresAt: clk.Now().Add(15 * time.Minute), MaxAttempts: 5}))
		clk.Advance(15*time.Minute - time.Second)
		require.NoError(t, s.PutCode(ctx, store.Code{Group: g, Key: "exp2", Hash: hash, ExpiresAt: clk.Now().Add(time.Second)}))
		st, err := s.ConsumeCode(ctx, g, "exp2", other)
		require.NoError(t, err)
		assert.Equal(t, store.CodeMismatch, st)
		clk.Advance(time.Second)
		st, err = s.ConsumeCode(ctx, g, "exp", hash)
		require.NoError(t, err)
		assert.Equal(t, store.CodeExpired, st, "right hash at expiry time")
		st, err = s.ConsumeCode(ctx, g, "exp", hash)
		require.NoError(t, err)
		assert.Equal(t, store.CodeNotFound, st, "an expired code answers Expired once, then is gone")
		st, err = s.ConsumeCode(ctx, g, "exp2", hash)
		require.NoError(t, err)
		assert.Equal(t, store.CodeExpired, st)
	})

	t.Run("Delete", func(t *testing.T) {
		require.NoError(t, s.PutCode(ctx, store.Code{Group: g, Key: "del", Hash: hash}))
		require.NoError(t, s.DeleteCode(ctx, g, "del"))
		st, err := s.ConsumeCode(ctx, g, "del", hash)
		require.NoError(t, err)
		assert.Equal(t, store.CodeNotFound, st)
	})
}

func (h *harness) codeGroups(t *testing.T) {
	s, clk, k, ctx := h.setup(t)
	g, g2 := k("backup:u1"), k("backup:u2")
	n, err := s.CountGroup(ctx, g)
	require.NoError(t, err)
	assert.Zero(t, n, "empty group")
	require.NoError(t, s.DeleteGroup(ctx, g), "deleting an empty group is not an error")

	for i := 0; i < 10; i++ {
		key := fmt.Sprintf("c%02d", i)
		require.NoError(t, s.PutCode(ctx, store.Code{Group: g, Key: key, Hash: []byte(key)}))
		require.NoError(t, s.PutCode(ctx, store.Code{Group: g2, Key: key, Hash: []byte(key)}))
	}
	require.NoError(t, s.PutCode(ctx, store.Code{Group: g, Key: "short", Hash: []byte("s"), ExpiresAt: clk.Now().Add(time.Minute)}))
	require.NoError(t, s.PutCode(ctx, store.Code{Group: g, Key: "dies", Hash: []byte("d"), MaxAttempts: 1}))
	n, err = s.CountGroup(ctx, g)
	require.NoError(t, err)
	assert.Equal(t, 12, n)

	st, err := s.ConsumeCode(ctx, g, "dies", []byte("wrong"))
	require.NoError(t, err)
	require.Equal(t, store.CodeMismatch, st)
	st, err = s.ConsumeCode(ctx, g, "c03", []byte("c03"))
	require.NoError(t, err)
	require.Equal(t, store.CodeMatched, st)
	clk.Advance(time.Minute)
	n, err = s.CountGroup(ctx, g)
	require.NoError(t, err)
	assert.Equal(t, 9, n, "consumed, expired and exhausted codes are not counted")

	require.NoError(t, s.DeleteGroup(ctx, g))
	n, err = s.CountGroup(ctx, g)
	require.NoError(t, err)
	assert.Zero(t, n, "after DeleteGroup")
	st, err = s.ConsumeCode(ctx, g, "c05", []byte("c05"))
	require.NoError(t, err)
	assert.Equal(t, store.CodeNotFound, st, "codes of a deleted group are gone")
	n, err = s.CountGroup(ctx, g2)
	require.NoError(t, err)
	assert.Equal(t, 10, n, "DeleteGroup leaves other groups alone")
}

func (h *harness) counters(t *testing.T) {
	s, clk, k, ctx := h.setup(t)
	n, reset, err := s.Peek(ctx, k("c"))
	require.NoError(t, err)
	assert.Zero(t, n)
	assert.True(t, reset.IsZero(), "missing counter has zero reset time")
	require.NoError(t, s.ResetCounter(ctx, k("c")), "resetting a missing counter is not an error")

	t0 := clk.Now()
	for i := int64(1); i <= 3; i++ {
		n, reset, err := s.Incr(ctx, k("c"), time.Minute)
		require.NoError(t, err)
		assert.Equal(t, i, n)
		assert.WithinDuration(t, t0.Add(time.Minute), reset, time.Millisecond, "window starts at the first Incr")
		clk.Advance(10 * time.Second)
	}
	n, reset, err = s.Peek(ctx, k("c"))
	require.NoError(t, err)
	assert.Equal(t, int64(3), n)
	assert.WithinDuration(t, t0.Add(time.Minute), reset, time.Millisecond)

	clk.Advance(30 * time.Second) // t0+60s: window over
	n, _, err = s.Peek(ctx, k("c"))
	require.NoError(t, err)
	assert.Zero(t, n, "Peek after the window")
	n, reset, err = s.Incr(ctx, k("c"), time.Minute)
	require.NoError(t, err)
	assert.Equal(t, int64(1), n, "Incr after the window starts again")
	assert.WithinDuration(t, clk.Now().Add(time.Minute), reset, time.Millisecond)

	require.NoError(t, s.ResetCounter(ctx, k("c")))
	n, _, err = s.Peek(ctx, k("c"))
	require.NoError(t, err)
	assert.Zero(t, n, "after ResetCounter")

	n, _, err = s.Incr(ctx, k("other"), time.Hour)
	require.NoError(t, err)
	assert.Equal(t, int64(1), n, "counters are independent")
}

func (h *harness) batchCounters(t *testing.T) {
	s, clk, k, ctx := h.setup(t)
	if _, ok := s.(store.BatchCounters); !ok {
		t.Log("store does not implement store.BatchCounters; IncrAll falls back to Incr")
	}
	out, err := store.IncrAll(ctx, s, nil)
	require.NoError(t, err)
	assert.Empty(t, out)

	t0 := clk.Now()
	_, _, err = s.Incr(ctx, k("b"), time.Hour)
	require.NoError(t, err)
	out, err = store.IncrAll(ctx, s, []store.CounterIncr{{Key: k("a"), Window: time.Minute}, {Key: k("b"), Window: time.Minute}, {Key: k("a"), Window: time.Minute}})
	require.NoError(t, err)
	require.Len(t, out, 3)
	assert.Equal(t, int64(1), out[0].N)
	assert.WithinDuration(t, t0.Add(time.Minute), out[0].ResetAt, time.Millisecond)
	assert.Equal(t, int64(2), out[1].N, "an existing counter keeps counting")
	assert.WithinDuration(t, t0.Add(time.Hour), out[1].ResetAt, time.Millisecond, "and keeps its window")
	assert.Equal(t, int64(2), out[2].N, "the same key twice in a batch counts twice")

	clk.Advance(time.Minute)
	out, err = store.IncrAll(ctx, s, []store.CounterIncr{{Key: k("a"), Window: time.Minute}, {Key: k("b"), Window: time.Minute}})
	require.NoError(t, err)
	assert.Equal(t, int64(1), out[0].N, "a batch restarts an ended window")
	assert.Equal(t, int64(3), out[1].N)
	n, _, err := s.Peek(ctx, k("a"))
	require.NoError(t, err)
	assert.Equal(t, int64(1), n, "batch and Peek agree")

	// Racing batches lose no increment.
	key1, key2 := k("race1"), k("race2")
	var mu sync.Mutex
	seen := map[int64]bool{}
	h.race(t, func() (bool, error) {
		out, err := store.IncrAll(ctx, s, []store.CounterIncr{{Key: key1, Window: time.Minute}, {Key: key2, Window: time.Minute}})
		if err != nil {
			return false, err
		}
		mu.Lock()
		defer mu.Unlock()
		if seen[out[0].N] {
			return false, fmt.Errorf("count %d returned twice", out[0].N)
		}
		seen[out[0].N] = true
		return true, nil
	})
	for _, key := range []string{key1, key2} {
		n, _, err := s.Peek(ctx, key)
		require.NoError(t, err)
		assert.Equal(t, int64(h.opt.Goroutines), n, "lost increments on %s", key)
	}
}

func (h *harness) ledger(t *testing.T) {
	s, clk, k, ctx := h.setup(t)
	first, err := s.MarkUsed(ctx, k("tok"), clk.Now().Add(time.Minute))
	require.NoError(t, err)
	assert.True(t, first)
	first, err = s.MarkUsed(ctx, k("tok"), clk.Now().Add(time.Minute))
	require.NoError(t, err)
	assert.False(t, first, "second MarkUsed")
	first, err = s.MarkUsed(ctx, k("tok2"), clk.Now().Add(time.Minute))
	require.NoError(t, err)
	assert.True(t, first, "another key")
	clk.Advance(time.Minute)
	first, err = s.MarkUsed(ctx, k("tok"), clk.Now().Add(time.Minute))
	require.NoError(t, err)
	assert.True(t, first, "MarkUsed after expiry")

	exp := clk.Now().Add(time.Hour)
	ok, err := s.Advance(ctx, k("hw"), 100, exp)
	require.NoError(t, err)
	assert.True(t, ok, "first Advance")
	ok, err = s.Advance(ctx, k("hw"), 100, exp)
	require.NoError(t, err)
	assert.False(t, ok, "Advance to the same value")
	ok, err = s.Advance(ctx, k("hw"), 99, exp)
	require.NoError(t, err)
	assert.False(t, ok, "Advance to a lower value")
	ok, err = s.Advance(ctx, k("hw"), 101, exp)
	require.NoError(t, err)
	assert.True(t, ok, "Advance to a higher value")
	ok, err = s.Advance(ctx, k("hw"), 100, exp)
	require.NoError(t, err)
	assert.False(t, ok, "lower than the new mark")
	ok, err = s.Advance(ctx, k("neg"), -5, exp)
	require.NoError(t, err)
	assert.True(t, ok, "first Advance with a negative value")
	ok, err = s.Advance(ctx, k("big"), 1<<62, exp)
	require.NoError(t, err)
	assert.True(t, ok, "large values")
	ok, err = s.Advance(ctx, k("big"), 1<<62-1, exp)
	require.NoError(t, err)
	assert.False(t, ok, "large values compare as numbers")
	clk.Advance(time.Hour)
	ok, err = s.Advance(ctx, k("hw"), 50, clk.Now().Add(time.Hour))
	require.NoError(t, err)
	assert.True(t, ok, "an expired mark is gone")
}

func (h *harness) enrollments(t *testing.T) {
	s, clk, k, ctx := h.setup(t)
	u := k("user")
	_, err := s.GetEnrollment(ctx, u, "x")
	require.ErrorIs(t, err, store.ErrNotFound)
	list, err := s.ListEnrollments(ctx, u)
	require.NoError(t, err)
	assert.Empty(t, list)
	require.NoError(t, s.DeleteEnrollment(ctx, u, "x"), "deleting a missing enrollment is not an error")

	t0 := clk.Now()
	e1 := store.EnrollmentRecord{UserID: u, ID: "b-totp", Method: "totp", Label: "Phone", Data: []byte{0, 1, 2, 0xff}, CreatedAt: t0}
	e2 := store.EnrollmentRecord{UserID: u, ID: "a-key", Method: "webauthn", Label: "YubiKey", Data: []byte(`{"k":1}`), CreatedAt: t0.Add(time.Second), LastUsedAt: t0.Add(2 * time.Second)}
	e3 := store.EnrollmentRecord{UserID: u, ID: "c-sms", Method: "sms", CreatedAt: t0.Add(time.Second)}
	other := store.EnrollmentRecord{UserID: k("other"), ID: "b-totp", Method: "totp", Data: []byte("other"), CreatedAt: t0}
	for _, e := range []store.EnrollmentRecord{e2, e1, e3, other} {
		require.NoError(t, s.PutEnrollment(ctx, e))
	}
	got, err := s.GetEnrollment(ctx, u, "b-totp")
	require.NoError(t, err)
	assertEnrollment(t, e1, got)

	list, err = s.ListEnrollments(ctx, u)
	require.NoError(t, err)
	require.Len(t, list, 3)
	assertEnrollment(t, e1, list[0])
	assertEnrollment(t, e2, list[1]) // same CreatedAt as e3: ordered by ID
	assertEnrollment(t, e3, list[2])

	e1.Label, e1.Data, e1.LastUsedAt = "Renamed", []byte("new"), t0.Add(time.Hour)
	require.NoError(t, s.PutEnrollment(ctx, e1), "PutEnrollment replaces")
	got, err = s.GetEnrollment(ctx, u, "b-totp")
	require.NoError(t, err)
	assertEnrollment(t, e1, got)

	require.NoError(t, s.DeleteEnrollment(ctx, u, "b-totp"))
	_, err = s.GetEnrollment(ctx, u, "b-totp")
	require.ErrorIs(t, err, store.ErrNotFound)
	got, err = s.GetEnrollment(ctx, k("other"), "b-totp")
	require.NoError(t, err, "another user's record with the same id is untouched")
	assertEnrollment(t, other, got)
}

func assertEnrollment(t *testing.T, want, got store.EnrollmentRecord) {
	t.Helper()
	assert.Equal(t, want.UserID, got.UserID)
	assert.Equal(t, want.ID, got.ID)
	assert.Equal(t, want.Method, got.Method)
	assert.Equal(t, want.Label, got.Label)
	assert.True(t, bytes.Equal(want.Data, got.Data), "Data: want %q, got %q", want.Data, got.Data)
	assertTime(t, want.CreatedAt, got.CreatedAt, "CreatedAt")
	assertTime(t, want.LastUsedAt, got.LastUsedAt, "LastUsedAt")
}

func assertTime(t *testing.T, want, got time.Time, what string) {
	t.Helper()
	if want.IsZero() {
		assert.True(t, got.IsZero(), "%s: want zero time, got %v", what, got)
		return
	}
	assert.WithinDuration(t, want, got, time.Millisecond, what)
}

func (h *harness) devices(t *testing.T) {
	s, clk, k, ctx := h.setup(t)
	u := k("user")
	_, err := s.GetDevice(ctx, k("missing"))
	require.ErrorIs(t, err, store.ErrNotFound)
	list, err := s.ListDevices(ctx, u)
	require.NoError(t, err)
	assert.Empty(t, list)
	require.NoError(t, s.DeleteDevice(ctx, k("missing")))

	t0 := clk.Now()
	d1 := store.Device{ID: k("d1"), UserID: u, Label: "Firefox on Linux", IP: "203.0.113.0/24", UserAgent: "ua-fp-1", CreatedAt: t0, ExpiresAt: t0.Add(30 * 24 * time.Hour), LastSeenAt: t0}
	d2 := store.Device{ID: k("d2"), UserID: u, Label: "Safari on iOS", IP: "2001:db8::1", CreatedAt: t0.Add(time.Second), ExpiresAt: t0.Add(24 * time.Hour)}
	d3 := store.Device{ID: k("d3"), UserID: k("other"), CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	for _, d := range []store.Device{d2, d1, d3} {
		require.NoError(t, s.PutDevice(ctx, d))
	}
	got, err := s.GetDevice(ctx, d1.ID)
	require.NoError(t, err)
	assertDevice(t, d1, got)
	list, err = s.ListDevices(ctx, u)
	require.NoError(t, err)
	require.Len(t, list, 2)
	assertDevice(t, d1, list[0])
	assertDevice(t, d2, list[1])

	d1.LastSeenAt = t0.Add(time.Hour)
	require.NoError(t, s.PutDevice(ctx, d1), "PutDevice replaces")
	got, err = s.GetDevice(ctx, d1.ID)
	require.NoError(t, err)
	assertDevice(t, d1, got)

	clk.Advance(24 * time.Hour)
	_, err = s.GetDevice(ctx, d2.ID)
	require.ErrorIs(t, err, store.ErrNotFound, "expired device")
	list, err = s.ListDevices(ctx, u)
	require.NoError(t, err)
	require.Len(t, list, 1, "expired devices are not listed")

	if tch, ok := s.(store.DeviceToucher); ok {
		seen := clk.Now().Add(time.Minute)
		require.NoError(t, tch.TouchDevice(ctx, d1.ID, seen))
		got, err := s.GetDevice(ctx, d1.ID)
		require.NoError(t, err)
		d1.LastSeenAt = seen
		assertDevice(t, d1, got)
	}

	require.NoError(t, s.DeleteDevice(ctx, d1.ID))
	_, err = s.GetDevice(ctx, d1.ID)
	require.ErrorIs(t, err, store.ErrNotFound)

	if tch, ok := s.(store.DeviceToucher); ok {
		require.NoError(t, tch.TouchDevice(ctx, d1.ID, clk.Now()), "touching a missing device is not an error")
		_, err = s.GetDevice(ctx, d1.ID)
		require.ErrorIs(t, err, store.ErrNotFound, "TouchDevice brought back a deleted device")
	}
}

func assertDevice(t *testing.T, want, got store.Device) {
	t.Helper()
	assert.Equal(t, want.ID, got.ID)
	assert.Equal(t, want.UserID, got.UserID)
	assert.Equal(t, want.Label, got.Label)
	assert.Equal(t, want.IP, got.IP)
	assert.Equal(t, want.UserAgent, got.UserAgent)
	assertTime(t, want.CreatedAt, got.CreatedAt, "CreatedAt")
	assertTime(t, want.ExpiresAt, got.ExpiresAt, "ExpiresAt")
	assertTime(t, want.LastSeenAt, got.LastSeenAt, "LastSeenAt")
}

// race runs fn from opt.Goroutines goroutines released at once and returns
// how many returned true; errors fail the test.
func (h *harness) race(t *testing.T, fn func() (bool, error)) int {
	t.Helper()
	var wins atomic.Int64
	var wg sync.WaitGroup
	startGate := make(chan struct{})
	errs := make(chan error, h.opt.Goroutines)
	for i := 0; i < h.opt.Goroutines; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-startGate
			ok, err := fn()
			if err != nil {
				errs <- err
				return
			}
			if ok {
				wins.Add(1)
			}
		}()
	}
	close(startGate)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	return int(wins.Load())
}

func (h *harness) races(t *testing.T) {
	s, clk, k, ctx := h.setup(t)
	t.Run("ConsumeCode", func(t *testing.T) {
		for r := 0; r < h.opt.Rounds; r++ {
			g := k(fmt.Sprintf("race-code-%d", r))
			require.NoError(t, s.PutCode(ctx, store.Code{Group: g, Key: "email", Hash: []byte("h"), ExpiresAt: clk.Now().Add(time.Minute), MaxAttempts: 5}))
			wins := h.race(t, func() (bool, error) {
				st, err := s.ConsumeCode(ctx, g, "email", []byte("h"))
				return st == store.CodeMatched, err
			})
			require.Equal(t, 1, wins, "round %d: a code was consumed %d times", r, wins)
		}
	})
	t.Run("ConsumeCodeAttempts", func(t *testing.T) {
		// Racing wrong answers use exactly MaxAttempts attempts; the rest
		// see an exhausted code.
		for r := 0; r < h.opt.Rounds/5+1; r++ {
			g := k(fmt.Sprintf("race-att-%d", r))
			require.NoError(t, s.PutCode(ctx, store.Code{Group: g, Key: "sms", Hash: []byte("h"), ExpiresAt: clk.Now().Add(time.Minute), MaxAttempts: 5}))
			mismatches := h.race(t, func() (bool, error) {
				st, err := s.ConsumeCode(ctx, g, "sms", []byte("wrong"))
				return st == store.CodeMismatch, err
			})
			require.Equal(t, 5, mismatches, "round %d: wrong answers checked", r)
			st, err := s.ConsumeCode(ctx, g, "sms", []byte("h"))
			require.NoError(t, err)
			require.Equal(t, store.CodeExhausted, st)
		}
	})
	t.Run("TakeState", func(t *testing.T) {
		for r := 0; r < h.opt.Rounds; r++ {
			key := k(fmt.Sprintf("race-state-%d", r))
			require.NoError(t, s.PutState(ctx, key, []byte("challenge"), clk.Now().Add(time.Minute)))
			wins := h.race(t, func() (bool, error) {
				_, err := s.TakeState(ctx, key)
				if errors.Is(err, store.ErrNotFound) {
					return false, nil
				}
				return err == nil, err
			})
			require.Equal(t, 1, wins, "round %d: a state was taken %d times", r, wins)
		}
	})
	t.Run("MarkUsed", func(t *testing.T) {
		for r := 0; r < h.opt.Rounds; r++ {
			key := k(fmt.Sprintf("race-mark-%d", r))
			wins := h.race(t, func() (bool, error) { return s.MarkUsed(ctx, key, clk.Now().Add(time.Minute)) })
			require.Equal(t, 1, wins, "round %d: a token was marked first %d times", r, wins)
		}
	})
	t.Run("Advance", func(t *testing.T) {
		for r := 0; r < h.opt.Rounds; r++ {
			key := k(fmt.Sprintf("race-adv-%d", r))
			wins := h.race(t, func() (bool, error) { return s.Advance(ctx, key, 57_000_000, clk.Now().Add(time.Minute)) })
			require.Equal(t, 1, wins, "round %d: a step was accepted %d times", r, wins)
		}
	})
	t.Run("Incr", func(t *testing.T) {
		for r := 0; r < h.opt.Rounds; r++ {
			key := k(fmt.Sprintf("race-incr-%d", r))
			var mu sync.Mutex
			seen := map[int64]bool{}
			h.race(t, func() (bool, error) {
				n, _, err := s.Incr(ctx, key, time.Minute)
				mu.Lock()
				defer mu.Unlock()
				if seen[n] {
					return false, fmt.Errorf("count %d returned twice", n)
				}
				seen[n] = true
				return true, err
			})
			n, _, err := s.Peek(ctx, key)
			require.NoError(t, err)
			require.Equal(t, int64(h.opt.Goroutines), n, "round %d: lost increments", r)
		}
	})
}

func (h *harness) sweep(t *testing.T) {
	s, clk, k, ctx := h.setup(t)
	sw, ok := s.(store.Sweeper)
	if !ok {
		t.Log("store does not implement store.Sweeper; nothing to check")
		return
	}
	exp := clk.Now().Add(time.Minute)
	require.NoError(t, s.PutState(ctx, k("s-old"), []byte("x"), exp))
	require.NoError(t, s.PutState(ctx, k("s-new"), []byte("x"), exp.Add(time.Hour)))
	require.NoError(t, s.PutCode(ctx, store.Code{Group: k("g"), Key: "old", Hash: []byte("h"), ExpiresAt: exp}))
	require.NoError(t, s.PutCode(ctx, store.Code{Group: k("g"), Key: "keep", Hash: []byte("h")}))
	_, err := s.MarkUsed(ctx, k("m"), exp)
	require.NoError(t, err)
	require.NoError(t, s.PutDevice(ctx, store.Device{ID: k("d"), UserID: k("u"), CreatedAt: clk.Now(), ExpiresAt: exp}))
	clk.Advance(time.Minute)
	n, err := sw.Sweep(ctx)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, n, 1, "Sweep removed nothing")
	_, err = s.GetState(ctx, k("s-new"))
	require.NoError(t, err, "Sweep removed a live state")
	st, err := s.ConsumeCode(ctx, k("g"), "keep", []byte("h"))
	require.NoError(t, err)
	assert.Equal(t, store.CodeMatched, st, "Sweep removed a code without expiry")
	st, err = s.ConsumeCode(ctx, k("g"), "old", []byte("h"))
	require.NoError(t, err)
	assert.Equal(t, store.CodeNotFound, st, "a swept expired code")
}

func (h *harness) canceled(t *testing.T) {
	s, clk, k, _ := h.setup(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	exp := clk.Now().Add(time.Minute)
	assert.Error(t, s.PutState(ctx, k("a"), []byte("x"), exp), "PutState with a canceled context")
	_, err := s.TakeState(ctx, k("a"))
	assert.Error(t, err, "TakeState with a canceled context")
	_, err = s.ConsumeCode(ctx, k("g"), "k", []byte("h"))
	assert.Error(t, err, "ConsumeCode with a canceled context")
	_, _, err = s.Incr(ctx, k("c"), time.Minute)
	assert.Error(t, err, "Incr with a canceled context")
	_, err = s.MarkUsed(ctx, k("m"), exp)
	assert.Error(t, err, "MarkUsed with a canceled context")
	_, err = s.Advance(ctx, k("m"), 1, exp)
	assert.Error(t, err, "Advance with a canceled context")
}
