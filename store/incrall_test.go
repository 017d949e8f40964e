package store_test

import (
	"context"
	"errors"
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
