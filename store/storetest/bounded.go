package storetest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor/store"
)

// boundedCounters checks IncrBelow in steps, each a method of
// boundedCase: an admitted call counts every counter, a full counter
// refuses the whole call, CountRefused counts anyway, windows end and
// start as Incr's do, Steps move the bound as a window ages, bad calls
// change nothing, and Incr, Decr, Peek and ResetCounter see the same
// counters. Each step runs twice: on keys that share a hash tag (one Redis
// Cluster slot) and on keys that do not. Then calls race, from two stores
// when Options.Shared is set.
func (h *harness) boundedCounters(t *testing.T) {
	s, clk, k, ctx := setup[boundedStore](h, t)
	for _, keys := range []struct {
		name string
		key  func(string) string
	}{
		{"OneTag", func(name string) string { return k("{b}" + name) }},
		{"Untagged", k},
	} {
		t.Run(keys.name, func(t *testing.T) {
			for _, step := range []struct {
				name string
				fn   func(*boundedCase, *testing.T)
			}{
				{"Admit", (*boundedCase).admit},
				{"Refuse", (*boundedCase).refuse},
				{"CountRefused", (*boundedCase).countRefused},
				{"Check", (*boundedCase).check},
				{"Expiry", (*boundedCase).expiry},
				{"Windows", (*boundedCase).windows},
				{"Steps", (*boundedCase).steps},
				{"Invalid", (*boundedCase).invalid},
				{"Counters", (*boundedCase).counters},
			} {
				c := &boundedCase{s: s, clk: clk, ctx: ctx, k: func(name string) string { return keys.key(step.name + "-" + name) }}
				t.Run(step.name, func(t *testing.T) { step.fn(c, t) })
			}
		})
	}
	t.Run("Race", func(t *testing.T) { h.raceBounded(t, s, clk, k, ctx) })
}

// boundedCase is what a step of boundedCounters works with: the store,
// its clock (which the steps share, each going on from where the one
// before left it), a context, and k, which makes the keys of the step.
type boundedCase struct {
	s   boundedStore
	clk *Clock
	ctx context.Context
	k   func(string) string
}

// in returns the entry of a call on the counter named name.
func (c *boundedCase) in(name string, max int64, window time.Duration) store.BoundedIncr {
	return store.BoundedIncr{Key: c.k(name), Window: window, Max: max}
}

// call makes one IncrBelow call and requires a result per entry.
func (c *boundedCase) call(t *testing.T, incrs ...store.BoundedIncr) []store.BoundedValue {
	t.Helper()
	out, err := c.s.IncrBelow(c.ctx, incrs)
	require.NoError(t, err)
	require.Len(t, out, len(incrs))
	return out
}

// peek returns what Peek reads of the counter named name.
func (c *boundedCase) peek(t *testing.T, name string) (int64, time.Time) {
	t.Helper()
	n, reset, err := c.s.Peek(c.ctx, c.k(name))
	require.NoError(t, err)
	return n, reset
}

// want is what a result should hold: the count, the window end (zero for
// none), the bound, and whether the counter was full and incremented.
type want struct {
	n          int64
	reset      time.Time
	max        int64
	full, incr bool
}

// check requires got to be w, the window end to the millisecond.
func check(t *testing.T, w want, got store.BoundedValue, msg string) {
	t.Helper()
	assert.Equal(t, w.n, got.N, "%s: count", msg)
	assertTime(t, w.reset, got.ResetAt, msg+": window end")
	assert.Equal(t, w.max, got.Max, "%s: bound", msg)
	assert.Equal(t, w.full, got.Full, "%s: full", msg)
	assert.Equal(t, w.incr, got.Incremented, "%s: incremented", msg)
}

// admit checks calls that no counter refuses: every counter is counted,
// a new one from a window of its own entry.
func (c *boundedCase) admit(t *testing.T) {
	t0 := c.clk.Now()
	out := c.call(t, c.in("a", 3, time.Minute), c.in("b", 2, time.Hour))
	check(t, want{1, t0.Add(time.Minute), 3, false, true}, out[0], "first call, a")
	check(t, want{1, t0.Add(time.Hour), 2, false, true}, out[1], "first call, b")
	assert.Equal(t, -1, store.FirstFull(out))

	c.clk.Advance(10 * time.Second)
	out = c.call(t, c.in("a", 3, time.Minute), c.in("b", 2, time.Hour))
	check(t, want{2, t0.Add(time.Minute), 3, false, true}, out[0], "second call, a keeps its window")
	check(t, want{2, t0.Add(time.Hour), 2, false, true}, out[1], "second call, b takes its last unit")
	n, reset := c.peek(t, "b")
	assert.Equal(t, int64(2), n, "IncrBelow and Peek agree")
	assertTime(t, t0.Add(time.Hour), reset, "Peek's window end")
}

// refuse checks that one full counter refuses the call, wherever it is in
// the call: no counter is incremented, none is created.
func (c *boundedCase) refuse(t *testing.T) {
	t0 := c.clk.Now()
	_, _, err := c.s.Incr(c.ctx, c.k("a"), time.Minute)
	require.NoError(t, err)
	for range 2 {
		c.call(t, c.in("full", 2, time.Hour))
	}
	for i := range 3 {
		out := c.call(t, c.in("a", 5, time.Minute), c.in("full", 2, time.Hour), c.in("missing", 5, time.Minute))
		msg := fmt.Sprintf("refused call %d", i+1)
		check(t, want{1, t0.Add(time.Minute), 5, false, false}, out[0], msg+", a")
		check(t, want{2, t0.Add(time.Hour), 2, true, false}, out[1], msg+", the full counter")
		check(t, want{0, time.Time{}, 5, false, false}, out[2], msg+", a missing counter")
		assert.Equal(t, 1, store.FirstFull(out), msg)
	}
	out := c.call(t, c.in("full", 2, time.Hour), c.in("a", 5, time.Minute))
	assert.Equal(t, 0, store.FirstFull(out), "a full counter first")
	assert.False(t, out[1].Incremented, "a full counter first")

	n, _ := c.peek(t, "a")
	assert.Equal(t, int64(1), n, "a refused call counts nothing")
	n, reset := c.peek(t, "missing")
	assert.Zero(t, n, "a refused call creates no counter")
	assert.True(t, reset.IsZero(), "a refused call creates no counter")
	n, _ = c.peek(t, "full")
	assert.Equal(t, int64(2), n, "a full counter stays at its bound")

	out = c.call(t, c.in("a", 1, time.Minute))
	check(t, want{1, t0.Add(time.Minute), 1, true, false}, out[0], "a counter at its bound alone")
}

// countRefused checks that a refused call still counts the entries with
// CountRefused, each while it is below its own bound, and no other.
func (c *boundedCase) countRefused(t *testing.T) {
	t0 := c.clk.Now()
	c.call(t, c.in("full", 1, time.Hour))
	own := c.in("own", 3, time.Minute)
	own.CountRefused = true
	for i := int64(1); i <= 3; i++ {
		out := c.call(t, own, c.in("shared", 10, time.Minute), c.in("full", 1, time.Hour))
		msg := fmt.Sprintf("refused call %d", i)
		check(t, want{i, t0.Add(time.Minute), 3, false, true}, out[0], msg+", the CountRefused counter")
		check(t, want{0, time.Time{}, 10, false, false}, out[1], msg+", the other counter")
		assert.True(t, out[2].Full, msg)
		assert.Equal(t, 2, store.FirstFull(out), msg)
	}
	out := c.call(t, own, c.in("shared", 10, time.Minute), c.in("full", 1, time.Hour))
	check(t, want{3, t0.Add(time.Minute), 3, true, false}, out[0], "a CountRefused counter at its own bound")
	assert.Equal(t, 0, store.FirstFull(out))
	n, reset := c.peek(t, "shared")
	assert.Zero(t, n, "refused calls leave the other counters alone")
	assert.True(t, reset.IsZero())

	other := c.in("other", 5, time.Minute)
	other.CountRefused = true
	out = c.call(t, other, c.in("shared", 10, time.Minute))
	check(t, want{1, t0.Add(time.Minute), 5, false, true}, out[0], "CountRefused in an admitted call")
	check(t, want{1, t0.Add(time.Minute), 10, false, true}, out[1], "the other counter of an admitted call")
}

// check checks entries that are a check only: a full one refuses the
// call, with Steps as any other, but no call increments one, admitted or
// refused, CountRefused or not, and a missing one is not created.
func (c *boundedCase) check(t *testing.T) {
	t0 := c.clk.Now()
	gate := c.in("gate", 2, time.Hour)
	gate.Check, gate.CountRefused = true, true
	out := c.call(t, c.in("sends", 5, time.Minute), gate)
	check(t, want{1, t0.Add(time.Minute), 5, false, true}, out[0], "below a missing check")
	check(t, want{0, time.Time{}, 2, false, false}, out[1], "a missing check is read, not created")
	n, reset := c.peek(t, "gate")
	assert.Zero(t, n, "a missing check is not created")
	assert.True(t, reset.IsZero(), "a missing check is not created")

	for range 2 {
		c.call(t, c.in("gate", 2, time.Hour))
	}
	out = c.call(t, c.in("sends", 5, time.Minute), gate)
	check(t, want{1, t0.Add(time.Minute), 5, false, false}, out[0], "refused by a full check")
	check(t, want{2, t0.Add(time.Hour), 2, true, false}, out[1], "a full check refuses")
	assert.Equal(t, 1, store.FirstFull(out))

	gate.Steps = []store.BoundStep{{After: 30 * time.Minute, Max: 3}}
	c.clk.Advance(30 * time.Minute)
	out = c.call(t, gate, c.in("sends", 5, 2*time.Hour))
	check(t, want{2, t0.Add(time.Hour), 3, false, false}, out[0], "a check below its later step admits, uncounted")
	check(t, want{1, c.clk.Now().Add(2 * time.Hour), 5, false, true}, out[1], "admitted by the check")
	n, _ = c.peek(t, "gate")
	assert.Equal(t, int64(2), n, "no call counted the check")
}

// expiry checks that a full counter admits again once its window ends,
// from a new window, and that an ended counter a refused call names is
// neither restarted nor counted.
func (c *boundedCase) expiry(t *testing.T) {
	t0 := c.clk.Now()
	for range 2 {
		c.call(t, c.in("e", 2, time.Minute))
	}
	c.clk.Advance(59 * time.Second)
	out := c.call(t, c.in("e", 2, time.Minute))
	check(t, want{2, t0.Add(time.Minute), 2, true, false}, out[0], "full 1s before its window ends")
	c.clk.Advance(time.Second)
	out = c.call(t, c.in("e", 2, 2*time.Minute))
	check(t, want{1, c.clk.Now().Add(2 * time.Minute), 2, false, true}, out[0], "at its window end: a new window")
	t2 := c.clk.Now()
	n, reset := c.peek(t, "e")
	assert.Equal(t, int64(1), n, "the new window's count is stored")
	assertTime(t, t2.Add(2*time.Minute), reset, "and so is its end")
	c.clk.Advance(time.Minute)
	out = c.call(t, c.in("e", 2, 2*time.Minute))
	check(t, want{2, t2.Add(2 * time.Minute), 2, false, true}, out[0], "the new window counts on")
	out = c.call(t, c.in("e", 2, 2*time.Minute))
	check(t, want{2, t2.Add(2 * time.Minute), 2, true, false}, out[0], "and fills")

	t1 := c.clk.Now()
	c.call(t, c.in("g", 5, time.Minute))
	c.call(t, c.in("h", 1, time.Hour))
	c.clk.Advance(time.Minute)
	out = c.call(t, c.in("g", 5, time.Minute), c.in("h", 1, time.Hour))
	check(t, want{0, time.Time{}, 5, false, false}, out[0], "an ended counter in a refused call")
	check(t, want{1, t1.Add(time.Hour), 1, true, false}, out[1], "the full counter")
	n, reset = c.peek(t, "g")
	assert.Zero(t, n, "the ended counter is not restarted")
	assert.True(t, reset.IsZero(), "the ended counter is not restarted")
	n, reset, err := c.s.Incr(c.ctx, c.k("g"), time.Minute)
	require.NoError(t, err)
	assert.Equal(t, int64(1), n, "Incr after the refused call starts again")
	assertTime(t, c.clk.Now().Add(time.Minute), reset, "with a window from now")
}

// windows checks that a live counter keeps its window whatever Window a
// call gives, and that the counters of one call each get their own.
func (c *boundedCase) windows(t *testing.T) {
	t0 := c.clk.Now()
	_, _, err := c.s.Incr(c.ctx, c.k("hour"), time.Hour)
	require.NoError(t, err)
	c.clk.Advance(time.Minute)
	out := c.call(t, c.in("hour", 5, time.Minute), c.in("x", 5, 90*time.Second), c.in("y", 5, 2*time.Hour))
	check(t, want{2, t0.Add(time.Hour), 5, false, true}, out[0], "a live counter keeps its window")
	check(t, want{1, c.clk.Now().Add(90 * time.Second), 5, false, true}, out[1], "x")
	check(t, want{1, c.clk.Now().Add(2 * time.Hour), 5, false, true}, out[2], "y")
	c.clk.Advance(90 * time.Second)
	out = c.call(t, c.in("hour", 5, time.Minute), c.in("x", 5, 90*time.Second), c.in("y", 5, 2*time.Hour))
	assert.Equal(t, []int64{3, 1, 2}, []int64{out[0].N, out[1].N, out[2].N}, "only x's window ended")
}

// steps checks a bound that rises as the window ages, the way the user
// lockout allows more wrong answers the longer a run has lasted, and one
// that falls.
func (c *boundedCase) steps(t *testing.T) {
	in := c.in("s", 2, time.Hour)
	in.Steps = []store.BoundStep{{After: 10 * time.Minute, Max: 4}, {After: 30 * time.Minute, Max: 6}}
	t0 := c.clk.Now()
	get := func(msg string, w want) {
		t.Helper()
		check(t, w, c.call(t, in)[0], msg)
	}
	get("first", want{1, t0.Add(time.Hour), 2, false, true})
	get("second", want{2, t0.Add(time.Hour), 2, false, true})
	get("before the first step", want{2, t0.Add(time.Hour), 2, true, false})
	c.clk.Advance(10*time.Minute - time.Second)
	get("a second before the first step", want{2, t0.Add(time.Hour), 2, true, false})
	c.clk.Advance(time.Second)
	get("at the first step", want{3, t0.Add(time.Hour), 4, false, true})
	get("within the first step", want{4, t0.Add(time.Hour), 4, false, true})
	get("the first step's bound", want{4, t0.Add(time.Hour), 4, true, false})
	c.clk.Advance(20 * time.Minute)
	get("at the second step", want{5, t0.Add(time.Hour), 6, false, true})
	c.clk.Advance(30 * time.Minute)
	get("a new window starts before the steps", want{1, c.clk.Now().Add(time.Hour), 2, false, true})

	// A counter that Incr started has the same age.
	_, _, err := c.s.Incr(c.ctx, c.k("t"), time.Hour)
	require.NoError(t, err)
	c.clk.Advance(30 * time.Minute)
	in.Key = c.k("t")
	check(t, want{2, c.clk.Now().Add(30 * time.Minute), 6, false, true}, c.call(t, in)[0], "a window Incr started")

	down := c.in("d", 5, time.Hour)
	down.Steps = []store.BoundStep{{After: 5 * time.Minute, Max: 1}}
	c.call(t, down)
	c.call(t, down)
	c.clk.Advance(5 * time.Minute)
	out := c.call(t, down)
	check(t, want{2, c.clk.Now().Add(55 * time.Minute), 1, true, false}, out[0], "a step that lowers the bound")
}

// invalid checks the calls that change nothing: none at all, a bound below
// one, a key named twice.
func (c *boundedCase) invalid(t *testing.T) {
	out, err := c.s.IncrBelow(c.ctx, nil)
	require.NoError(t, err, "an empty call")
	assert.Empty(t, out)

	for _, max := range []int64{0, -1} {
		out := c.call(t, c.in("a", 5, time.Minute), c.in("zero", max, time.Minute))
		check(t, want{0, time.Time{}, max, true, false}, out[1], fmt.Sprintf("a bound of %d", max))
		assert.False(t, out[0].Incremented, "a bound of %d refuses the call", max)
	}
	n, reset := c.peek(t, "a")
	assert.Zero(t, n)
	assert.True(t, reset.IsZero())

	_, _, err = c.s.Incr(c.ctx, c.k("dup"), time.Minute)
	require.NoError(t, err)
	_, err = c.s.IncrBelow(c.ctx, []store.BoundedIncr{c.in("a", 5, time.Minute), c.in("dup", 5, time.Minute), c.in("dup", 9, time.Hour)})
	require.Error(t, err, "a key named twice")
	n, _ = c.peek(t, "a")
	assert.Zero(t, n, "a call with a key named twice changes nothing")
	n, _ = c.peek(t, "dup")
	assert.Equal(t, int64(1), n, "a call with a key named twice changes nothing")
}

// counters checks that bounded increments count on the counters of Incr
// and Decr, that a counter Incr took past a bound reads full with its
// count, and that ResetCounter starts one again.
func (c *boundedCase) counters(t *testing.T) {
	for range 3 {
		_, _, err := c.s.Incr(c.ctx, c.k("x"), time.Minute)
		require.NoError(t, err)
	}
	assert.Equal(t, int64(4), c.call(t, c.in("x", 5, time.Minute))[0].N, "after three Incr")
	require.NoError(t, c.s.Decr(c.ctx, c.k("x")))
	assert.Equal(t, int64(4), c.call(t, c.in("x", 5, time.Minute))[0].N, "after Decr")
	assert.Equal(t, int64(5), c.call(t, c.in("x", 5, time.Minute))[0].N)
	_, _, err := c.s.Incr(c.ctx, c.k("x"), time.Minute)
	require.NoError(t, err)
	out := c.call(t, c.in("x", 5, time.Minute))
	assert.True(t, out[0].Full, "a counter Incr took past the bound")
	assert.Equal(t, int64(6), out[0].N, "reads its count")
	require.NoError(t, c.s.ResetCounter(c.ctx, c.k("x")))
	out = c.call(t, c.in("x", 5, time.Minute))
	assert.Equal(t, int64(1), out[0].N, "after ResetCounter")
	assert.True(t, out[0].Incremented)
}

// raceBounded races Goroutines calls, from two stores when Options.Shared
// is set, on counters below their bounds. On keys that share a hash tag
// (and on any keys, unless Options.AtomicPerHashSlot) exactly as many calls
// are admitted as the tightest bound allows, each admitted call sees its
// own count, the refused calls count nothing but their CountRefused
// counter, and no counter passes its bound. On keys that do not share a
// tag with AtomicPerHashSlot, no more calls than that are admitted and the
// counters hold exactly the admitted calls.
func (h *harness) raceBounded(t *testing.T, s boundedStore, clk *Clock, k func(string) string, ctx context.Context) {
	stores := []boundedStore{s}
	if h.opt.Shared {
		other, ok := h.newStore(t, clk.Now).(boundedStore)
		require.True(t, ok, "the second store does not implement store.BoundedCounters")
		stores = append(stores, other)
	}
	bound := max(int64(h.opt.Goroutines/4), 1)
	for _, keys := range []struct {
		name  string
		key   func(r int, name string) string
		exact bool
	}{
		{"OneTag", func(r int, name string) string { return k(fmt.Sprintf("{race-%d}%s", r, name)) }, true},
		{"Untagged", func(r int, name string) string { return k(fmt.Sprintf("race-%d-%s", r, name)) }, !h.opt.AtomicPerHashSlot},
	} {
		t.Run(keys.name, func(t *testing.T) {
			for r := 0; r < h.opt.Rounds/5+1; r++ {
				tight := store.BoundedIncr{Key: keys.key(r, "tight"), Window: time.Minute, Max: bound}
				loose := store.BoundedIncr{Key: keys.key(r, "loose"), Window: time.Minute, Max: 1 << 40}
				own := store.BoundedIncr{Key: keys.key(r, "own"), Window: time.Minute, Max: 1 << 40, CountRefused: true}
				incrs := []store.BoundedIncr{loose, tight}
				if keys.exact {
					incrs = append(incrs, own)
				}
				admitted := h.raceBoundedRound(t, stores, incrs, bound)
				if keys.exact {
					require.Equal(t, bound, admitted, "round %d: calls admitted", r)
				} else {
					require.LessOrEqual(t, admitted, bound, "round %d: calls admitted", r)
				}
				for _, in := range incrs[:2] {
					n, _, err := s.Peek(ctx, in.Key)
					require.NoError(t, err)
					require.Equal(t, admitted, n, "round %d: the count of %s", r, in.Key)
				}
				if keys.exact {
					n, _, err := s.Peek(ctx, own.Key)
					require.NoError(t, err)
					require.Equal(t, int64(h.opt.Goroutines), n, "round %d: the CountRefused counter counts every call", r)
				}
			}
		})
	}
}

// raceBoundedRound makes Goroutines racing IncrBelow calls of incrs, whose
// second entry has the tightest bound, spread over stores, and returns
// how many were admitted. It fails on a call that is admitted without
// incrementing every counter, refused without a full counter, or sees the
// count of another.
func (h *harness) raceBoundedRound(t *testing.T, stores []boundedStore, incrs []store.BoundedIncr, bound int64) int64 {
	t.Helper()
	var mu sync.Mutex
	var turn atomic.Int64
	seen := map[int64]bool{}
	admitted := h.race(t, func() (bool, error) {
		s := stores[int(turn.Add(1))%len(stores)]
		out, err := s.IncrBelow(context.Background(), incrs)
		if err != nil {
			return false, err
		}
		if len(out) != len(incrs) {
			return false, fmt.Errorf("%d results for %d counters", len(out), len(incrs))
		}
		for i, v := range out {
			if v.N > incrs[i].Max && v.Incremented {
				return false, fmt.Errorf("counter %d went to %d, past its bound %d", i, v.N, incrs[i].Max)
			}
		}
		if store.FirstFull(out) >= 0 {
			if out[0].Incremented || out[1].Incremented {
				return false, fmt.Errorf("a refused call counted: %+v", out)
			}
			return false, nil
		}
		mu.Lock()
		defer mu.Unlock()
		for _, v := range out {
			if !v.Incremented {
				return false, fmt.Errorf("an admitted call did not count every counter: %+v", out)
			}
		}
		if n := out[1].N; n < 1 || n > bound || seen[n] {
			return false, fmt.Errorf("admitted with count %d (bound %d, seen before: %v)", n, bound, seen[n])
		}
		seen[out[1].N] = true
		return true, nil
	})
	return int64(admitted)
}
