package smscode_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/internal/storespy"
	"github.com/twofactorkit/twofactor/smscode"
	"github.com/twofactorkit/twofactor/store"
)

// discard is a Sender that drops messages but keeps the last code.
type discard struct{ last atomic.Value }

func (d *discard) Send(_ context.Context, m smscode.Message) error {
	d.last.Store(m.Body[:6])
	return nil
}

func benchFactor(b *testing.B) (*smscode.Factor, *storespy.Spy, *discard) {
	cs := storespy.New(store.NewMemory())
	d := &discard{}
	f, err := smscode.New(twofactor.Env{Store: cs, Keys: keys(b), Events: &event.Sink{Discard: true}}, smscode.Config{Sender: d,
		Caps:    smscode.Caps{PerUser: 1 << 30, PerDestination: 1 << 30, PerIP: 1 << 30},
		Budgets: smscode.Budgets{PerCountry: 1 << 30, Total: 1 << 30}, // counted, never reached
	})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if _, err := f.BeginEnroll(ctx, bob, twofactor.EnrollRequest{Destination: usNumber, Client: client}); err != nil {
		b.Fatal(err)
	}
	if _, err := f.ConfirmEnroll(ctx, bob, d.last.Load().(string)); err != nil {
		b.Fatal(err)
	}
	cs.Calls.Store(0)
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
	b.ReportMetric(float64(cs.Calls.Load())/float64(i), "roundtrips/op")
}

// BenchmarkVerify measures the whole verification path (normalize, hash,
// one atomic ConsumeCode) with a wrong answer, so the code is not consumed
// and no re-issuing pollutes the measurement; a right answer costs the same
// work plus a delete and the write of the last use (see
// BenchmarkVerifySuccess).
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
	cs.Calls.Store(0)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		if _, err := f.Verify(ctx, ch, wrong); err == nil {
			b.Fatal("wrong code accepted")
		}
	}
	b.ReportMetric(float64(cs.Calls.Load())/float64(i), "roundtrips/op")
}

// BenchmarkVerifySuccess measures a right answer: the code consumed, and
// the login recorded as the phone's last use. Each iteration sends a code
// first, outside the timing and the count.
func BenchmarkVerifySuccess(b *testing.B) {
	ctx := context.Background()
	f, cs, d := benchFactor(b)
	b.ReportAllocs()
	var trips int64
	i := 0
	for b.Loop() {
		b.StopTimer()
		i++
		ch := challenge(fmt.Sprint("c", i), bob, twofactor.PurposeLogin)
		if _, err := f.Send(ctx, ch, client); err != nil {
			b.Fatal(err)
		}
		before := cs.Calls.Load()
		b.StartTimer()
		if _, err := f.Verify(ctx, ch, d.last.Load().(string)); err != nil {
			b.Fatal(err)
		}
		trips += cs.Calls.Load() - before
	}
	b.ReportMetric(float64(trips)/float64(i), "roundtrips/op")
}
