package sqlstore

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of the automatic sweep, applied by New to zero Options fields.
const (
	DefaultSweepInterval = 5 * time.Minute
	DefaultSweepLimit    = 10_000
)

// sweepBatch is the most rows one statement of an automatic sweep
// deletes, so that other statements (on SQLite, which has one writer, all
// of them) wait for at most one short batch.
const sweepBatch = 500

// autoSweep starts a bounded sweep in the background at most once per
// interval, when an operation of the store finds one due. It keeps no
// goroutine between sweeps, so a Store that is never closed leaks nothing.
type autoSweep struct {
	every   time.Duration
	limit   int
	onSweep func(removed int, err error)

	// clock measures the interval (time.Now, whose monotonic reading
	// ignores changes of the wall clock); start is its reading when the
	// store was built, and due the time since start at which the next
	// sweep may begin.
	clock func() time.Time
	start time.Time
	due   atomic.Int64

	mu      sync.Mutex
	running bool
	closed  bool
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

func newAutoSweep(every time.Duration, limit int, onSweep func(int, error)) *autoSweep {
	a := &autoSweep{every: every, limit: limit, onSweep: onSweep, clock: time.Now}
	a.start = a.clock()
	a.due.Store(int64(every))
	return a
}

// maybeSweep starts a background sweep if one is due, none is running and
// the store is not closed. The check costs one atomic load when no sweep
// is due; the caller never waits for the sweep.
func (s *Store) maybeSweep() {
	a := s.auto
	if a == nil {
		return
	}
	now := int64(a.clock().Sub(a.start))
	if now < a.due.Load() {
		return
	}
	a.mu.Lock()
	if a.closed || a.running || now < a.due.Load() {
		a.mu.Unlock()
		return
	}
	a.due.Store(now + int64(a.every))
	a.running = true
	ctx, cancel := context.WithCancel(context.Background())
	a.cancel = cancel
	a.wg.Add(1)
	a.mu.Unlock()
	go func() {
		defer a.wg.Done()
		n, err := s.sweepSome(ctx, a.limit)
		cancel()
		a.mu.Lock()
		a.running, a.cancel = false, nil
		a.mu.Unlock()
		if a.onSweep != nil {
			a.onSweep(n, err)
		}
	}()
}

// Close stops automatic sweeping: it interrupts a sweep in progress (which
// then reports context.Canceled to Options.OnSweep) and waits for it to
// end, so no goroutine of the store outlives Close. The store stays usable
// and never sweeps by itself again; Sweep still works. Close does not
// close the *sql.DB, which the caller owns; call it before closing the DB.
// It is safe to call more than once.
func (s *Store) Close() error {
	a := s.auto
	if a == nil {
		return nil
	}
	a.mu.Lock()
	a.closed = true
	if a.cancel != nil {
		a.cancel()
	}
	a.mu.Unlock()
	a.wg.Wait()
	return nil
}

// sweepSome deletes up to limit expired rows from each table with an
// expiry, in statements of at most sweepBatch rows, and returns how many
// it removed. Expiry is decided by the store's clock, as in Sweep.
func (s *Store) sweepSome(ctx context.Context, limit int) (int, error) {
	now := s.nowMicro()
	total := 0
	for _, q := range s.q.sweepSome {
		for left := limit; left > 0; {
			b := min(left, sweepBatch)
			args := []any{now, b, now}
			if s.dialect == MySQL {
				args = args[:2]
			}
			var n int64
			err := s.retry(ctx, "sweep", func() error {
				res, err := s.db.ExecContext(ctx, q, args...)
				if err != nil {
					return err
				}
				n, err = res.RowsAffected()
				return err
			})
			total += int(n)
			if err != nil {
				return total, err
			}
			if n < int64(b) {
				break // the table has no more expired rows
			}
			left -= int(n)
		}
	}
	return total, nil
}
