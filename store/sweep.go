package store

import (
	"context"
	"time"
)

// SweepEvery calls s.Sweep once every interval until ctx ends, then
// returns; run it in its own goroutine. The first sweep runs one interval
// after the call, and a sweep that takes longer than the interval delays
// the next one rather than overlapping it. A failed sweep is passed to
// onErr (nil ignores it) and the next one runs on schedule; a sweep cut
// short because ctx ended is not reported. It panics if every is not
// positive, as time.NewTicker does.
//
//	go store.SweepEvery(ctx, st, 5*time.Minute, func(err error) {
//		slog.Warn("twofactor: sweep failed", "err", err)
//	})
func SweepEvery(ctx context.Context, s Sweeper, every time.Duration, onErr func(error)) {
	if every <= 0 {
		panic("store: SweepEvery needs a positive interval")
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if ctx.Err() != nil {
			return
		}
		if _, err := s.Sweep(ctx); err != nil && ctx.Err() == nil && onErr != nil {
			onErr(err)
		}
	}
}
