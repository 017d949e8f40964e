package sqlstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor/store"
	"github.com/twofactorkit/twofactor/store/storetest"
)

// TestSweepEveryTable puts one expired and one live row in every table
// with an expiry and checks that Sweep removes exactly the expired ones.
func TestSweepEveryTable(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			clk := storetest.NewClock(time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC))
			s := migrated(t, b.open(t), b.dialect, clk.Now)
			ctx := context.Background()
			soon, later := clk.Now().Add(time.Minute), clk.Now().Add(time.Hour)
			for _, e := range []struct {
				key string
				exp time.Time
			}{{"old", soon}, {"new", later}} {
				require.NoError(t, s.PutState(ctx, e.key, []byte("x"), e.exp))
				require.NoError(t, s.PutCode(ctx, store.Code{Group: "g", Key: e.key, Hash: []byte("h"), ExpiresAt: e.exp}))
				_, _, err := s.Incr(ctx, e.key, e.exp.Sub(clk.Now()))
				require.NoError(t, err)
				_, err = s.MarkUsed(ctx, e.key, e.exp)
				require.NoError(t, err)
				require.NoError(t, s.PutDevice(ctx, store.Device{ID: e.key, UserID: "u", ExpiresAt: e.exp}))
			}
			require.NoError(t, s.PutCode(ctx, store.Code{Group: "g", Key: "forever", Hash: []byte("h")}))
			require.NoError(t, s.PutEnrollment(ctx, store.EnrollmentRecord{UserID: "u", ID: "e", Method: "totp"}))

			n, err := s.Sweep(ctx)
			require.NoError(t, err)
			assert.Zero(t, n, "nothing has expired yet")

			clk.Advance(time.Minute)
			n, err = s.Sweep(ctx)
			require.NoError(t, err)
			assert.Equal(t, 5, n, "one expired row in each of five tables")
			n, err = s.Sweep(ctx)
			require.NoError(t, err)
			assert.Zero(t, n, "a second Sweep finds nothing")

			_, err = s.GetState(ctx, "new")
			require.NoError(t, err)
			count, err := s.CountGroup(ctx, "g")
			require.NoError(t, err)
			assert.Equal(t, 2, count, "the live code and the code without expiry stay")
			c, _, err := s.Peek(ctx, "new")
			require.NoError(t, err)
			assert.Equal(t, int64(1), c)
			first, err := s.MarkUsed(ctx, "new", later)
			require.NoError(t, err)
			assert.False(t, first, "the live mark stays")
			_, err = s.GetDevice(ctx, "new")
			require.NoError(t, err)
			_, err = s.GetEnrollment(ctx, "u", "e")
			require.NoError(t, err, "enrollments are never swept")
		})
	}
}
