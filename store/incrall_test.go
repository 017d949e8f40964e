package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor/store"
	"github.com/twofactorkit/twofactor/store/storetest"
)

// plainCounters hides every method but those of store.Counters, so
// IncrAll cannot find IncrBatch and uses its one-by-one fallback. Incr
// fails from the call numbered failAt (1-based; 0 never) and counts calls.
type plainCounters struct {
	c      store.Counters
	failAt int
	calls  int
}

var errIncr = errors.New("incr failed")

func (p *plainCounters) Incr(ctx context.Context, key string, w time.Duration) (int64, time.Time, error) {
	p.calls++
	if p.failAt > 0 && p.calls >= p.failAt {
		return 0, time.Time{}, errIncr
	}
	return p.c.Incr(ctx, key, w)
}
func (p *plainCounters) Peek(ctx context.Context, key string) (int64, time.Time, error) {
	return p.c.Peek(ctx, key)
}
func (p *plainCounters) Decr(ctx context.Context, key string) error { return p.c.Decr(ctx, key) }
func (p *plainCounters) ResetCounter(ctx context.Context, key string) error {
	return p.c.ResetCounter(ctx, key)
}

func TestIncrAllFallback(t *testing.T) {
	ctx := context.Background()
	clk := storetest.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	mem := store.NewMemory(clk.Now)
	pc := &plainCounters{c: mem}
	var _ store.Counters = pc
	_, isBatch := any(pc).(store.BatchCounters)
	require.False(t, isBatch, "the wrapper must not offer IncrBatch")

	out, err := store.IncrAll(ctx, pc, nil)
	require.NoError(t, err)
	assert.Nil(t, out)
	assert.Zero(t, pc.calls, "an empty batch calls nothing")

	t0 := clk.Now()
	_, _, err = mem.Incr(ctx, "b", time.Hour)
	require.NoError(t, err)
	clk.Advance(time.Second)
	out, err = store.IncrAll(ctx, pc, []store.CounterIncr{
		{Key: "a", Window: time.Minute},
		{Key: "b", Window: time.Minute},
		{Key: "a", Window: time.Minute},
		{Key: "c", Window: 2 * time.Minute},
	})
	require.NoError(t, err)
	assert.Equal(t, 4, pc.calls, "one Incr per entry, in order")
	want := []store.CounterValue{
		{N: 1, ResetAt: t0.Add(time.Second + time.Minute)},
		{N: 2, ResetAt: t0.Add(time.Hour)}, // an existing counter keeps its window
		{N: 2, ResetAt: t0.Add(time.Second + time.Minute)},
		{N: 1, ResetAt: t0.Add(time.Second + 2*time.Minute)},
	}
	require.Len(t, out, len(want))
	for i := range want {
		assert.Equal(t, want[i].N, out[i].N, "result %d", i)
		assert.True(t, want[i].ResetAt.Equal(out[i].ResetAt), "result %d: window end %v, want %v", i, out[i].ResetAt, want[i].ResetAt)
	}

	// An error stops the batch: no results, and the entries after the
	// failing one are not incremented.
	failing := &plainCounters{c: mem, failAt: 2}
	out, err = store.IncrAll(ctx, failing, []store.CounterIncr{{Key: "x", Window: time.Minute}, {Key: "y", Window: time.Minute}, {Key: "z", Window: time.Minute}})
	require.ErrorIs(t, err, errIncr)
	assert.Nil(t, out, "no result on error")
	assert.Equal(t, 2, failing.calls, "IncrAll stops at the first error")
	n, _, err := mem.Peek(ctx, "x")
	require.NoError(t, err)
	assert.Equal(t, int64(1), n, "entries before the error were incremented")
	n, _, err = mem.Peek(ctx, "z")
	require.NoError(t, err)
	assert.Zero(t, n, "entries after the error were not")
}

// shortBatch is a BatchCounters that returns one result too few.
type shortBatch struct{ *store.Memory }

func (b shortBatch) IncrBatch(ctx context.Context, incrs []store.CounterIncr) ([]store.CounterValue, error) {
	out, err := b.Memory.IncrBatch(ctx, incrs)
	return out[:len(out)-1], err
}

// failingBatch is a BatchCounters whose batches fail.
type failingBatch struct{ *store.Memory }

func (failingBatch) IncrBatch(context.Context, []store.CounterIncr) ([]store.CounterValue, error) {
	return nil, errIncr
}

func TestIncrAllBatch(t *testing.T) {
	ctx := context.Background()
	incrs := []store.CounterIncr{{Key: "a", Window: time.Minute}, {Key: "b", Window: time.Minute}}
	out, err := store.IncrAll(ctx, shortBatch{store.NewMemory()}, incrs)
	require.Error(t, err, "a batch with a missing result")
	assert.Nil(t, out)
	out, err = store.IncrAll(ctx, failingBatch{store.NewMemory()}, incrs)
	require.ErrorIs(t, err, errIncr)
	assert.Nil(t, out)
}

// decrCounting is plainCounters that also counts Decr calls and fails
// them when failDecr is set.
type decrCounting struct {
	plainCounters
	decrs    int
	failDecr bool
}

var errDecr = errors.New("decr failed")

func (d *decrCounting) Decr(ctx context.Context, key string) error {
	d.decrs++
	if d.failDecr {
		return errDecr
	}
	return d.c.Decr(ctx, key)
}

func TestIncrAllBelowFallback(t *testing.T) {
	ctx := context.Background()
	clk := storetest.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	mem := store.NewMemory(clk.Now)
	d := &decrCounting{plainCounters: plainCounters{c: mem}}
	_, isBounded := any(d).(store.BoundedCounters)
	require.False(t, isBounded, "the wrapper must not offer IncrBelow")
	in := func(key string, max int64) store.BoundedIncr {
		return store.BoundedIncr{Key: key, Window: time.Minute, Max: max}
	}

	out, err := store.IncrAllBelow(ctx, d, nil, clk.Now())
	require.NoError(t, err)
	assert.Nil(t, out)
	_, err = store.IncrAllBelow(ctx, d, []store.BoundedIncr{in("a", 1), in("a", 2)}, clk.Now())
	require.Error(t, err, "a key named twice")
	assert.Zero(t, d.calls, "refused before any call")

	t0 := clk.Now()
	out, err = store.IncrAllBelow(ctx, d, []store.BoundedIncr{in("a", 2), in("b", 1)}, clk.Now())
	require.NoError(t, err)
	assert.Equal(t, -1, store.FirstFull(out))
	assert.Equal(t, store.BoundedValue{N: 1, ResetAt: t0.Add(time.Minute), Max: 2, Incremented: true}, out[0])
	assert.Equal(t, store.BoundedValue{N: 1, ResetAt: t0.Add(time.Minute), Max: 1, Incremented: true}, out[1])
	assert.Zero(t, d.decrs, "an admitted call takes nothing back")

	// b is full: the call is refused, and every increment but the one
	// CountRefused asks for is taken back.
	own := in("own", 5)
	own.CountRefused = true
	out, err = store.IncrAllBelow(ctx, d, []store.BoundedIncr{in("a", 2), in("b", 1), own, in("new", 5)}, clk.Now())
	require.NoError(t, err)
	assert.Equal(t, 1, store.FirstFull(out))
	assert.Equal(t, store.BoundedValue{N: 1, ResetAt: t0.Add(time.Minute), Max: 2}, out[0])
	assert.Equal(t, store.BoundedValue{N: 1, ResetAt: t0.Add(time.Minute), Max: 1, Full: true}, out[1])
	assert.Equal(t, store.BoundedValue{N: 1, ResetAt: t0.Add(time.Minute), Max: 5, Incremented: true}, out[2])
	assert.Equal(t, store.BoundedValue{N: 0, ResetAt: t0.Add(time.Minute), Max: 5}, out[3],
		"a missing counter taken back is left live at zero")
	assert.Equal(t, 3, d.decrs, "one Decr per increment taken back")
	for key, want := range map[string]int64{"a": 1, "b": 1, "own": 1, "new": 0} {
		n, _, err := mem.Peek(ctx, key)
		require.NoError(t, err)
		assert.Equal(t, want, n, key)
	}

	// Steps are measured with now.
	clk.Advance(30 * time.Second)
	st := in("b", 1)
	st.Steps = []store.BoundStep{{After: 30 * time.Second, Max: 2}}
	out, err = store.IncrAllBelow(ctx, d, []store.BoundedIncr{st}, clk.Now())
	require.NoError(t, err)
	assert.Equal(t, store.BoundedValue{N: 2, ResetAt: t0.Add(time.Minute), Max: 2, Incremented: true}, out[0])

	d.failDecr = true
	out, err = store.IncrAllBelow(ctx, d, []store.BoundedIncr{in("a", 1)}, clk.Now())
	require.ErrorIs(t, err, errDecr, "a take-back that fails")
	assert.Nil(t, out)
	d.failDecr = false
	d.failAt = d.calls + 1
	out, err = store.IncrAllBelow(ctx, d, []store.BoundedIncr{in("a", 5)}, clk.Now())
	require.ErrorIs(t, err, errIncr, "an increment that fails")
	assert.Nil(t, out)
}

// shortBounded is a BoundedCounters that returns one result too few.
type shortBounded struct{ *store.Memory }

func (b shortBounded) IncrBelow(ctx context.Context, incrs []store.BoundedIncr) ([]store.BoundedValue, error) {
	out, err := b.Memory.IncrBelow(ctx, incrs)
	return out[:len(out)-1], err
}

// failingBounded is a BoundedCounters whose calls fail.
type failingBounded struct{ *store.Memory }

func (failingBounded) IncrBelow(context.Context, []store.BoundedIncr) ([]store.BoundedValue, error) {
	return nil, errIncr
}

func TestIncrAllBelowBounded(t *testing.T) {
	ctx := context.Background()
	clk := storetest.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	mem := store.NewMemory(clk.Now)
	for range 2 {
		_, _, err := mem.Incr(ctx, "full", time.Hour)
		require.NoError(t, err)
	}
	incrs := []store.BoundedIncr{{Key: "a", Window: time.Minute, Max: 5}, {Key: "full", Window: time.Minute, Max: 2}}
	out, err := store.IncrAllBelow(ctx, mem, incrs, time.Time{})
	require.NoError(t, err)
	assert.Equal(t, 1, store.FirstFull(out))
	n, reset, err := mem.Peek(ctx, "a")
	require.NoError(t, err)
	assert.Zero(t, n, "IncrBelow, not the fallback: nothing was counted")
	assert.True(t, reset.IsZero(), "and nothing created")

	out, err = store.IncrAllBelow(ctx, shortBounded{mem}, incrs, clk.Now())
	require.Error(t, err, "a call with a missing result")
	assert.Nil(t, out)
	out, err = store.IncrAllBelow(ctx, failingBounded{mem}, incrs, clk.Now())
	require.ErrorIs(t, err, errIncr)
	assert.Nil(t, out)
}

func TestBoundedMaxAt(t *testing.T) {
	b := store.BoundedIncr{Max: 3, Steps: []store.BoundStep{{After: time.Minute, Max: 6}, {After: 3 * time.Minute, Max: 9}}}
	for age, want := range map[time.Duration]int64{0: 3, time.Minute - 1: 3, time.Minute: 6, 3*time.Minute - 1: 6, 3 * time.Minute: 9, time.Hour: 9} {
		assert.Equal(t, want, b.MaxAt(age), "age %v", age)
	}
}

func TestCheckBounded(t *testing.T) {
	for _, n := range []int{2, 8, 9, 20} {
		incrs := make([]store.BoundedIncr, n)
		for i := range incrs {
			incrs[i].Key = fmt.Sprintf("k%d", i)
		}
		require.NoError(t, store.CheckBounded(incrs), "%d distinct keys", n)
		incrs[n-1].Key = incrs[n/2-1].Key
		require.Error(t, store.CheckBounded(incrs), "%d keys, one twice", n)
	}
	require.NoError(t, store.CheckBounded(nil))
}
