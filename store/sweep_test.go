package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor/store"
)

// scriptedSweeper answers each Sweep with the next function of a script
// and counts the calls. Calls beyond the script fail the test.
type scriptedSweeper struct {
	t      *testing.T
	script []func(ctx context.Context) (int, error)
	calls  int
}

func (s *scriptedSweeper) Sweep(ctx context.Context) (int, error) {
	s.calls++
	if s.calls > len(s.script) {
		s.t.Errorf("Sweep call %d after the last scripted one", s.calls)
		return 0, nil
	}
	return s.script[s.calls-1](ctx)
}

func TestSweepEvery(t *testing.T) {
	errBoom := errors.New("boom")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sw := &scriptedSweeper{t: t, script: []func(context.Context) (int, error){
		func(ctx context.Context) (int, error) {
			require.NoError(t, ctx.Err(), "the first sweep runs with a live context")
			return 3, nil
		},
		func(context.Context) (int, error) { return 0, errBoom },
		func(context.Context) (int, error) { return 1, nil },
		func(ctx context.Context) (int, error) {
			cancel() // the host shuts down while this sweep runs
			return 0, ctx.Err()
		},
	}}
	var reported []error
	// A tiny interval: the ticks come as fast as the loop takes them, and
	// the script, not the clock, decides when it ends.
	store.SweepEvery(ctx, sw, time.Microsecond, func(err error) { reported = append(reported, err) })

	assert.Equal(t, 4, sw.calls, "SweepEvery returns once its context ends, and sweeps no more")
	require.Len(t, reported, 1, "only the failed sweep is reported; the one cut short by the context is not")
	assert.ErrorIs(t, reported[0], errBoom)
}

func TestSweepEveryNilOnErr(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sw := &scriptedSweeper{t: t, script: []func(context.Context) (int, error){
		func(context.Context) (int, error) { return 0, errors.New("ignored") },
		func(context.Context) (int, error) { cancel(); return 0, nil },
	}}
	store.SweepEvery(ctx, sw, time.Microsecond, nil)
	assert.Equal(t, 2, sw.calls, "a failure with no onErr does not stop the loop")
}

func TestSweepEveryEndedContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	sw := &scriptedSweeper{t: t}
	store.SweepEvery(ctx, sw, time.Hour, func(err error) { t.Errorf("unexpected report: %v", err) })
	assert.Zero(t, sw.calls, "no sweep once the context has ended")
}

func TestSweepEveryBadInterval(t *testing.T) {
	for _, d := range []time.Duration{0, -time.Second} {
		assert.Panics(t, func() { store.SweepEvery(context.Background(), store.NewMemory(), d, nil) }, "%v", d)
	}
}

// ExampleSweepEvery runs a memory store's sweep on a schedule until the
// context ends.
func ExampleSweepEvery() {
	ctx, cancel := context.WithCancel(context.Background())
	st := store.NewMemory()
	done := make(chan struct{})
	go func() {
		defer close(done)
		store.SweepEvery(ctx, st, 5*time.Minute, func(err error) {
			// log it: expired records stay until a later sweep works
		})
	}()
	// ... serve ...
	cancel()
	<-done
	// Output:
}
