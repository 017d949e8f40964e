package redisstore

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor/store"
	"github.com/twofactorkit/twofactor/store/storetest"
)

// TestTouchEnrollmentTimes checks the script's reading of stored times
// against Go's: for pairs of instants written in assorted zones, with and
// without fractions of a second, from year 0 to 9998, a touch moves
// LastUsedAt exactly when Go's After says so, and the record it writes is
// byte for byte the one PutEnrollment would write.
func TestTouchEnrollmentTimes(t *testing.T) {
	clk := storetest.NewClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	s, rdb := newStore(t, clk.Now)
	ctx := context.Background()
	zones := []*time.Location{time.UTC, time.FixedZone("east", 5*3600+45*60), time.FixedZone("west", -11*3600)}
	bases := []time.Time{
		{}, // never used
		time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC),
		time.Date(1969, 12, 31, 23, 59, 59, 999_999_999, time.UTC),
		time.Unix(0, 0),
		time.Date(2000, 2, 29, 12, 0, 0, 500_000_000, time.UTC),
		time.Date(2026, 12, 31, 23, 59, 59, 120_000_000, time.UTC),
		time.Date(9998, 6, 1, 0, 0, 0, 0, time.UTC),
	}
	deltas := []time.Duration{-24 * time.Hour, -time.Second, -time.Millisecond, -1, 0, 1, time.Microsecond, time.Millisecond, 90 * time.Minute, 366 * 24 * time.Hour}
	// A label that holds the text the script looks for must not mislead it.
	e := store.EnrollmentRecord{UserID: "u", ID: "e", Method: "totp", Label: `"}x,"used":"9999-01-01T00:00:00Z"}`, Data: []byte(`,"used":"`), CreatedAt: clk.Now()}
	for _, base := range bases {
		for _, d := range deltas {
			for _, zs := range zones {
				for _, zu := range zones {
					stored := base
					if !base.IsZero() {
						stored = base.In(zs)
					}
					used := base.Add(d).In(zu)
					if base.IsZero() && d <= 0 {
						continue // before year 1: not a time the library passes
					}
					e.LastUsedAt = stored
					require.NoError(t, s.PutEnrollment(ctx, e))
					require.NoError(t, s.TouchEnrollment(ctx, "u", "e", used))
					want := e
					if used.After(stored) {
						want.LastUsedAt = used
					}
					wantRaw, err := encodeEnrollment(want)
					require.NoError(t, err)
					raw, err := rdb.HGet(ctx, s.enrollKey("u"), "e").Bytes()
					require.NoError(t, err)
					require.Equal(t, string(wantRaw), string(raw), "stored %v, touched with %v", stored, used)
				}
			}
		}
	}
}

// TestTouchDeviceKeepsPut: touches racing a PutDevice never bring back the
// record the put replaced. Each round puts a new label and expiry while
// touches run, then checks that the put's fields stand and the key keeps
// the put's TTL.
func TestTouchDeviceKeepsPut(t *testing.T) {
	clk := storetest.NewClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	s, rdb := newStore(t, clk.Now)
	ctx := context.Background()
	d := store.Device{ID: "dev-race", UserID: "u", Label: "v0", CreatedAt: clk.Now(), ExpiresAt: clk.Now().Add(time.Hour)}
	require.NoError(t, s.PutDevice(ctx, d))
	for round := 1; round <= 20; round++ {
		var wg sync.WaitGroup
		stop := make(chan struct{})
		for g := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					seen := clk.Now().Add(time.Duration(g*1000+i) * time.Millisecond)
					if err := s.TouchDevice(ctx, d.ID, seen); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		time.Sleep(time.Millisecond)
		d.Label = fmt.Sprintf("v%d", round)
		d.ExpiresAt = clk.Now().Add(time.Duration(round+1) * time.Hour)
		require.NoError(t, s.PutDevice(ctx, d))
		time.Sleep(time.Millisecond)
		close(stop)
		wg.Wait()
		got, err := s.GetDevice(ctx, d.ID)
		require.NoError(t, err)
		require.Equal(t, d.Label, got.Label, "round %d: the put is kept", round)
		require.True(t, d.ExpiresAt.Equal(got.ExpiresAt), "round %d", round)
		require.True(t, d.CreatedAt.Equal(got.CreatedAt), "round %d", round)
		ttl, err := rdb.PTTL(ctx, s.deviceKey(d.ID)).Result()
		require.NoError(t, err)
		require.Greater(t, ttl, time.Duration(round)*time.Hour, "round %d: the put's TTL is kept", round)
	}

	// A touch sets the last-seen time only, and never creates a record.
	seen := clk.Now().Add(time.Minute)
	require.NoError(t, s.TouchDevice(ctx, d.ID, seen))
	got, err := s.GetDevice(ctx, d.ID)
	require.NoError(t, err)
	want := d
	want.LastSeenAt = seen
	b1, _ := encodeDevice(want)
	b2, _ := encodeDevice(got)
	require.Equal(t, string(b1), string(b2))
	stored, err := rdb.Get(ctx, s.deviceKey(d.ID)).Result()
	require.NoError(t, err)
	require.Equal(t, string(b1), stored, "byte for byte what PutDevice writes")
	require.NoError(t, s.TouchDevice(ctx, "dev-none", seen))
	_, err = s.GetDevice(ctx, "dev-none")
	require.ErrorIs(t, err, store.ErrNotFound)
}
