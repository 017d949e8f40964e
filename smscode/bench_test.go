package smscode_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/smscode"
	"github.com/twofactorkit/twofactor/store"
)

// countingStore counts store round trips made through the factor.
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

func (c *countingStore) PutEnrollment(ctx context.Context, e store.EnrollmentRecord) error {
	c.n.Add(1)
	return c.Memory.PutEnrollment(ctx, e)
}

func (c *countingStore) GetEnrollment(ctx context.Context, u, id string) (store.EnrollmentRecord, error) {
	c.n.Add(1)
	return c.Memory.GetEnrollment(ctx, u, id)
}

func (c *countingStore) ListEnrollments(ctx context.Context, u string) ([]store.EnrollmentRecord, error) {
	c.n.Add(1)
	return c.Memory.ListEnrollments(ctx, u)
}

func (c *countingStore) DeleteEnrollment(ctx context.Context, u, id string) error {
	c.n.Add(1)
	return c.Memory.DeleteEnrollment(ctx, u, id)
}

func (c *countingStore) PutState(ctx context.Context, k string, v []byte, exp time.Time) error {
	c.n.Add(1)
	return c.Memory.PutState(ctx, k, v, exp)
}

func (c *countingStore) GetState(ctx context.Context, k string) ([]byte, error) {
	c.n.Add(1)
	return c.Memory.GetState(ctx, k)
}

func (c *countingStore) TakeState(ctx context.Context, k string) ([]byte, error) {
	c.n.Add(1)
	return c.Memory.TakeState(ctx, k)
}

func (c *countingStore) DeleteState(ctx context.Context, k string) error {
	c.n.Add(1)
	return c.Memory.DeleteState(ctx, k)
}

// discard is a Sender that drops messages but keeps the last code.
type discard struct{ last atomic.Value }

func (d *discard) Send(_ context.Context, m smscode.Message) error {
	d.last.Store(m.Body[:6])
	return nil
}

func benchFactor(b *testing.B) (*smscode.Factor, *countingStore, *discard) {
	cs := &countingStore{Memory: store.NewMemory(nil)}
	d := &discard{}
	f, err := smscode.New(smscode.Config{Store: cs, Keys: keys(b), Sender: d,
		Caps:   smscode.Caps{PerUser: 1 << 30, PerDestination: 1 << 30, PerIP: 1 << 30},
		Events: &twofactor.Events{Discard: true}})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if _, err := f.BeginPhone(ctx, bob, usNumber, "", client); err != nil {
		b.Fatal(err)
	}
	if _, err := f.ConfirmPhone(ctx, bob, d.last.Load().(string)); err != nil {
		b.Fatal(err)
	}
	cs.n.Store(0)
	return f, cs, d
}

func BenchmarkSend(b *testing.B) {
	ctx := context.Background()
	f, cs, _ := benchFactor(b)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		if _, err := f.Send(ctx, challenge(fmt.Sprint("c", i), bob, twofactor.PurposeLogin), client); err != nil {
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
	f, cs, d := benchFactor(b)
	ch := challenge("c0", bob, twofactor.PurposeLogin)
	if _, err := f.Send(ctx, ch, client); err != nil {
		b.Fatal(err)
	}
	wrong := "000000"
	if d.last.Load().(string) == wrong {
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
