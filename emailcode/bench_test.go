package emailcode_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/emailcode"
	"github.com/twofactorkit/twofactor/store"
)

// countingStore counts the store round trips the factor makes.
type countingStore struct {
	*store.Memory
	n atomic.Int64
}

func (c *countingStore) PutCode(ctx context.Context, code store.Code) error {
	c.n.Add(1)
	return c.Memory.PutCode(ctx, code)
}

func (c *countingStore) ConsumeCode(ctx context.Context, g, k string, h []byte) (store.CodeStatus, error) {
	c.n.Add(1)
	return c.Memory.ConsumeCode(ctx, g, k, h)
}

func (c *countingStore) DeleteCode(ctx context.Context, g, k string) error {
	c.n.Add(1)
	return c.Memory.DeleteCode(ctx, g, k)
}

func (c *countingStore) DeleteGroup(ctx context.Context, g string) error {
	c.n.Add(1)
	return c.Memory.DeleteGroup(ctx, g)
}

func (c *countingStore) CountGroup(ctx context.Context, g string) (int, error) {
	c.n.Add(1)
	return c.Memory.CountGroup(ctx, g)
}

func (c *countingStore) Incr(ctx context.Context, k string, w time.Duration) (int64, time.Time, error) {
	c.n.Add(1)
	return c.Memory.Incr(ctx, k, w)
}

func (c *countingStore) Peek(ctx context.Context, k string) (int64, time.Time, error) {
	c.n.Add(1)
	return c.Memory.Peek(ctx, k)
}

func (c *countingStore) ResetCounter(ctx context.Context, k string) error {
	c.n.Add(1)
	return c.Memory.ResetCounter(ctx, k)
}

// lastCode is a Sender that drops messages but keeps the last code.
type lastCode struct{ code atomic.Value }

func (l *lastCode) Send(_ context.Context, m emailcode.Message) error {
	l.code.Store(codeRE.FindString(m.Text))
	return nil
}

func benchFactor(b *testing.B) (*emailcode.Factor, *countingStore, *lastCode) {
	cs := &countingStore{Memory: store.NewMemory(nil)}
	l := &lastCode{}
	f, err := emailcode.New(emailcode.Config{Store: cs, Keys: keys(b), Sender: l,
		Caps: emailcode.Caps{PerUser: 1 << 30, PerDestination: 1 << 30, PerIP: 1 << 30}})
	if err != nil {
		b.Fatal(err)
	}
	return f, cs, l
}

func BenchmarkSend(b *testing.B) {
	ctx := context.Background()
	f, cs, _ := benchFactor(b)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		if _, err := f.Send(ctx, challenge(fmt.Sprint("c", i), twofactor.PurposeLogin), client); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(cs.n.Load())/float64(i), "roundtrips/op")
}

// BenchmarkVerify measures the whole verification path (normalize, hash,
// one atomic ConsumeCode) with a wrong answer, so the code is not consumed
// and no re-issuing pollutes the measurement; a right answer costs the same
// work plus a delete.
func BenchmarkVerify(b *testing.B) {
	ctx := context.Background()
	f, cs, l := benchFactor(b)
	ch := challenge("c0", twofactor.PurposeLogin)
	if _, err := f.Send(ctx, ch, client); err != nil {
		b.Fatal(err)
	}
	wrong := "000000"
	if l.code.Load().(string) == wrong {
		wrong = "000001"
	}
	cs.n.Store(0)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		if _, err := f.Verify(ctx, ch, wrong); err == nil {
			b.Fatal("wrong code accepted")
		}
	}
	b.ReportMetric(float64(cs.n.Load())/float64(i), "roundtrips/op")
}

func (c *countingStore) IncrBatch(ctx context.Context, incrs []store.CounterIncr) ([]store.CounterValue, error) {
	c.n.Add(1)
	return c.Memory.IncrBatch(ctx, incrs)
}
