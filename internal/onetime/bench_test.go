package onetime

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twofactorkit/twofactor/store"
)

// countingStore counts store round trips.
type countingStore struct {
	*store.Memory
	n atomic.Int64
}

func (c *countingStore) PutCode(ctx context.Context, code store.Code) error {
	c.n.Add(1)
	return c.Memory.PutCode(ctx, code)
}

func (c *countingStore) ConsumeCode(ctx context.Context, group, key string, hash []byte) (store.CodeStatus, error) {
	c.n.Add(1)
	return c.Memory.ConsumeCode(ctx, group, key, hash)
}

func (c *countingStore) DeleteCode(ctx context.Context, group, key string) error {
	c.n.Add(1)
	return c.Memory.DeleteCode(ctx, group, key)
}

func (c *countingStore) DeleteGroup(ctx context.Context, group string) error {
	c.n.Add(1)
	return c.Memory.DeleteGroup(ctx, group)
}

func (c *countingStore) CountGroup(ctx context.Context, group string) (int, error) {
	c.n.Add(1)
	return c.Memory.CountGroup(ctx, group)
}

func (c *countingStore) Incr(ctx context.Context, key string, window time.Duration) (int64, time.Time, error) {
	c.n.Add(1)
	return c.Memory.Incr(ctx, key, window)
}

func (c *countingStore) Peek(ctx context.Context, key string) (int64, time.Time, error) {
	c.n.Add(1)
	return c.Memory.Peek(ctx, key)
}

func (c *countingStore) ResetCounter(ctx context.Context, key string) error {
	c.n.Add(1)
	return c.Memory.ResetCounter(ctx, key)
}

func benchIssuer(b *testing.B) (*Issuer, *countingStore) {
	cs := &countingStore{Memory: store.NewMemory(nil)}
	is, err := New("bench", Config{Store: cs, Keys: testKeys(b), Channel: "bench",
		Caps: Caps{PerUser: 1 << 30, PerDestination: 1 << 30, PerIP: 1 << 30}})
	if err != nil {
		b.Fatal(err)
	}
	return is, cs
}

func noDeliver(context.Context, string, time.Time) error { return nil }

func BenchmarkIssue(b *testing.B) {
	ctx := context.Background()
	is, cs := benchIssuer(b)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		if _, err := is.Issue(ctx, req("g"+strconv.Itoa(i)), noDeliver); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(cs.n.Load())/float64(i), "roundtrips/op")
}

func BenchmarkVerify(b *testing.B) {
	ctx := context.Background()
	is, cs := benchIssuer(b)
	r := req("g")
	code := "123456"
	b.ReportAllocs()
	var trips int64
	for b.Loop() {
		// Store a code outside the count, then verify it: the success path.
		if err := is.store.PutCode(ctx, store.Code{Group: is.group("g"), Key: "login", Hash: is.hash(r, code), MaxAttempts: 5}); err != nil {
			b.Fatal(err)
		}
		before := cs.n.Load()
		if err := is.Verify(ctx, r, code); err != nil {
			b.Fatal(err)
		}
		trips += cs.n.Load() - before
	}
	b.ReportMetric(float64(trips)/float64(b.N), "roundtrips/op")
}

func (c *countingStore) IncrBatch(ctx context.Context, incrs []store.CounterIncr) ([]store.CounterValue, error) {
	c.n.Add(1)
	return c.Memory.IncrBatch(ctx, incrs)
}
