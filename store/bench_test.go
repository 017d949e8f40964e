package store_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/twofactorkit/twofactor/store"
)

// BenchmarkMemoryCounters measures the memory store's counter operations
// on two counters at once, as a limit check does: IncrBatch, then
// IncrBelow admitted (bounds never reached) and refused (one counter at
// its bound), and IncrBatch followed by the Decr that gives back a refused
// count, which IncrBelow replaces. Keys cycle over 64 pairs.
//
//	go test -run '^$' -bench BenchmarkMemoryCounters ./store/
func BenchmarkMemoryCounters(b *testing.B) {
	ctx := context.Background()
	key := func(name string, i int) string { return name + ":" + strconv.Itoa(i%64) }
	ops := []struct {
		name string
		fn   func(m *store.Memory, i int) error
	}{
		{"IncrBatch2", func(m *store.Memory, i int) error {
			_, err := m.IncrBatch(ctx, []store.CounterIncr{{Key: key("ip", i), Window: time.Minute}, {Key: key("att", i), Window: time.Minute}})
			return err
		}},
		{"IncrBatch2Decr", func(m *store.Memory, i int) error {
			if _, err := m.IncrBatch(ctx, []store.CounterIncr{{Key: key("ip", i), Window: time.Minute}, {Key: key("att", i), Window: time.Minute}}); err != nil {
				return err
			}
			return m.Decr(ctx, key("ip", i))
		}},
		{"IncrBelow2", func(m *store.Memory, i int) error {
			_, err := m.IncrBelow(ctx, []store.BoundedIncr{{Key: key("ip", i), Window: time.Minute, Max: 1 << 40}, {Key: key("att", i), Window: time.Minute, Max: 1 << 40}})
			return err
		}},
		{"IncrBelow2Refused", func(m *store.Memory, i int) error {
			_, err := m.IncrBelow(ctx, []store.BoundedIncr{{Key: key("ip", i), Window: time.Minute, Max: 1 << 40}, {Key: key("full", i), Window: time.Minute, Max: 1}})
			return err
		}},
	}
	for _, op := range ops {
		b.Run(op.name, func(b *testing.B) {
			m := store.NewMemory()
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if err := op.fn(m, i); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
