package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/store"
	"github.com/twofactorkit/twofactor/store/sqlstore"
	"github.com/twofactorkit/twofactor/store/storetest"
)

// rows counts the rows of one of the store's tables.
func rows(t *testing.T, db *sql.DB, prefix, table string) int {
	t.Helper()
	var n int
	require.NoError(t, db.QueryRow(`SELECT COUNT(*) FROM `+prefix+table).Scan(&n))
	return n
}

type sweepResult struct {
	n   int
	err error
}

// TestAutoSweep checks that a store deletes expired rows by itself, in the
// background, at most once per interval and at most SweepLimit rows per
// table, without the host calling Sweep. The interval is measured with a
// manual clock, so the test never waits for time to pass.
func TestAutoSweep(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			clk := storetest.NewClock(time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC))  // decides expiry
			tick := storetest.NewClock(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)) // measures the interval
			db := b.open(t)
			prefix := migrated(t, db, b.dialect, clk.Now).TablePrefix()
			results := make(chan sweepResult, 16)
			newStore := func(limit int) *sqlstore.Store {
				t.Helper()
				s, err := sqlstore.New(db, sqlstore.Options{
					Dialect: b.dialect, TablePrefix: prefix, Now: clk.Now,
					SweepInterval: time.Minute, SweepLimit: limit,
					OnSweep: func(n int, err error) { results <- sweepResult{n, err} },
				})
				require.NoError(t, err)
				s.SetSweepClock(tick.Now)
				t.Cleanup(func() { _ = s.Close() })
				return s
			}
			// closeQuiet closes s, which waits for any sweep it started,
			// and checks that none did.
			closeQuiet := func(s *sqlstore.Store, msg string) {
				t.Helper()
				require.NoError(t, s.Close())
				require.Empty(t, results, msg)
			}

			a := newStore(0)
			soon, later := clk.Now().Add(time.Minute), clk.Now().Add(time.Hour)
			for i := range 5 {
				require.NoError(t, a.PutOwnedState(ctx, "alice", fmt.Sprintf("old%d", i), []byte("personal data"), soon))
			}
			require.NoError(t, a.PutState(ctx, "new", []byte("x"), later))
			for _, e := range []struct {
				key string
				exp time.Time
			}{{"old", soon}, {"new", later}} {
				require.NoError(t, a.PutCode(ctx, store.Code{Group: "g", Key: e.key, Hash: []byte("h"), ExpiresAt: e.exp}))
				_, _, err := a.Incr(ctx, e.key, e.exp.Sub(clk.Now()))
				require.NoError(t, err)
				_, err = a.MarkUsed(ctx, e.key, e.exp)
				require.NoError(t, err)
				require.NoError(t, a.PutDevice(ctx, store.Device{ID: e.key, UserID: "u", ExpiresAt: e.exp}))
			}
			clk.Advance(time.Minute) // the old rows have expired
			tick.Advance(time.Minute - time.Nanosecond)
			for range 10 {
				_, err := a.GetState(ctx, "new")
				require.NoError(t, err)
			}
			closeQuiet(a, "no sweep before the interval has passed")
			require.Equal(t, 6, rows(t, db, prefix, "states"), "nothing was swept")

			// A store whose interval has passed sweeps after the operation
			// that finds it due, without anyone calling Sweep.
			s := newStore(0)
			tick.Advance(time.Minute)
			_, err := s.GetState(ctx, "new")
			require.NoError(t, err)
			r := <-results
			require.NoError(t, r.err)
			assert.Equal(t, 9, r.n, "five states and one row of each other table with an expiry")
			assert.Equal(t, 1, rows(t, db, prefix, "states"))
			for _, table := range []string{"codes", "counters", "ledger", "devices"} {
				assert.Equal(t, 1, rows(t, db, prefix, table), "%s: only the live row is left", table)
			}
			_, err = s.GetState(ctx, "new")
			require.NoError(t, err, "the live state stays")

			// At most once per interval, however many operations run.
			var wg sync.WaitGroup
			for range 20 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, err := s.GetState(ctx, "new")
					assert.NoError(t, err)
				}()
			}
			wg.Wait()
			tick.Advance(time.Minute - time.Nanosecond)
			_, err = s.GetState(ctx, "new")
			require.NoError(t, err)
			closeQuiet(s, "a second sweep within the interval")

			// SweepLimit bounds each sweep; the rest waits for the next one.
			s = newStore(2)
			for i := range 5 {
				require.NoError(t, s.PutState(ctx, fmt.Sprintf("batch%d", i), []byte("x"), clk.Now().Add(time.Second)))
			}
			clk.Advance(time.Second)
			for _, want := range []int{2, 2, 1, 0} {
				tick.Advance(time.Minute)
				_, err := s.GetState(ctx, "new")
				require.NoError(t, err)
				r := <-results
				require.NoError(t, r.err)
				assert.Equal(t, want, r.n, "rows removed by a sweep limited to 2 per table")
			}
			assert.Equal(t, 1, rows(t, db, prefix, "states"))
			closeQuiet(s, "")
		})
	}
}

// TestAutoSweepClose checks that Close waits for a sweep in progress, that
// operations go on while a sweep runs, and that a closed store starts no
// sweep.
func TestAutoSweepClose(t *testing.T) {
	ctx := context.Background()
	clk := storetest.NewClock(time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC))
	tick := storetest.NewClock(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC))
	db := openSQLite(t)
	prefix := migrated(t, db, sqlstore.SQLite, clk.Now).TablePrefix()
	entered, release := make(chan struct{}), make(chan struct{})
	var mu sync.Mutex
	sweeps, returned := 0, 0
	s, err := sqlstore.New(db, sqlstore.Options{TablePrefix: prefix, Now: clk.Now, SweepInterval: time.Minute, OnSweep: func(int, error) {
		mu.Lock()
		sweeps++
		first := sweeps == 1
		mu.Unlock()
		if first {
			close(entered)
			<-release
		}
		mu.Lock()
		returned++
		mu.Unlock()
	}})
	require.NoError(t, err)
	s.SetSweepClock(tick.Now)

	tick.Advance(time.Minute)
	require.NoError(t, s.PutState(ctx, "k", []byte("v"), time.Time{}), "the operation that starts a sweep returns")
	<-entered
	got, err := s.GetState(ctx, "k")
	require.NoError(t, err, "operations go on while the sweep's goroutine runs")
	assert.Equal(t, []byte("v"), got)

	closed := make(chan int)
	go func() {
		_ = s.Close()
		mu.Lock()
		defer mu.Unlock()
		closed <- returned
	}()
	for range 100 {
		runtime.Gosched() // give a Close that does not wait every chance to return early
	}
	close(release)
	assert.Equal(t, 1, <-closed, "Close returned before the sweep's goroutine ended")

	tick.Advance(time.Hour)
	require.NoError(t, s.PutState(ctx, "k2", []byte("v"), time.Time{}), "a closed store still works")
	_, err = s.Sweep(ctx)
	require.NoError(t, err, "and can still be swept by hand")
	require.NoError(t, s.Close(), "Close twice")
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, 1, sweeps, "a closed store starts no sweep")
}

func TestSweepOptions(t *testing.T) {
	db := openSQLite(t)
	for _, tt := range []struct {
		name  string
		opt   sqlstore.Options
		every time.Duration
		limit int
	}{
		{"on by default", sqlstore.Options{}, sqlstore.DefaultSweepInterval, sqlstore.DefaultSweepLimit},
		{"custom", sqlstore.Options{SweepInterval: time.Hour, SweepLimit: 50}, time.Hour, 50},
		{"off", sqlstore.Options{SweepInterval: -1}, 0, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, err := sqlstore.New(db, tt.opt)
			require.NoError(t, err)
			every, limit := s.SweepSettings()
			assert.Equal(t, tt.every, every)
			assert.Equal(t, tt.limit, limit)
			require.NoError(t, s.Close())
		})
	}
	assert.Equal(t, 5*time.Minute, sqlstore.DefaultSweepInterval)
	_, err := sqlstore.New(db, sqlstore.Options{SweepLimit: -1})
	require.ErrorIs(t, err, twofactor.ErrConfig)
}
