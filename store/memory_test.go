package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor/store"
	"github.com/twofactorkit/twofactor/store/storetest"
)

func TestMemoryConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T, now func() time.Time) store.Store {
		return store.NewMemory(now)
	})
}

// The memory store runs one batch at a time: of two batches that each
// count a submission and then consume the same code, the one that counted
// first is the one that consumed it, every time.
func TestMemoryBatchesDoNotInterleave(t *testing.T) {
	m := store.NewMemory(nil)
	ctx := context.Background()
	for i := range 500 {
		key := fmt.Sprintf("c%d", i)
		require.NoError(t, m.PutCode(ctx, store.Code{Group: "g", Key: key, Hash: []byte("h"), ExpiresAt: time.Now().Add(time.Hour)}))
		batches := make([][]store.Op, 2)
		var wg sync.WaitGroup
		for j := range batches {
			batches[j] = []store.Op{
				{Kind: store.OpIncrBelow, Incrs: []store.BoundedIncr{{Key: "sub:" + key, Window: time.Hour, Max: 10}}},
				{Kind: store.OpConsumeCode, Group: "g", Key: key, Hash: []byte("h")},
			}
			wg.Go(func() { require.NoError(t, m.RunBatch(ctx, batches[j])) })
		}
		wg.Wait()
		for _, b := range batches {
			first := b[0].Bounded[0].N == 1
			assert.Equal(t, first, b[1].Status == store.CodeMatched, "batch %d: the first to count is the one that consumed", i)
		}
	}
}
