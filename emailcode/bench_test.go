package emailcode_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/emailcode"
	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/internal/storespy"
	"github.com/twofactorkit/twofactor/store"
)

// lastCode is a Sender that drops messages but keeps the last code.
type lastCode struct{ code atomic.Value }

func (l *lastCode) Send(_ context.Context, m emailcode.Message) error {
	l.code.Store(codeRE.FindString(m.Text))
	return nil
}

func benchFactor(b *testing.B) (*emailcode.Factor, *storespy.Spy, *lastCode) {
	cs := storespy.New(store.NewMemory())
	l := &lastCode{}
	f, err := emailcode.New(twofactor.Env{Store: cs, Keys: keys(b), Events: &event.Sink{Discard: true}},
		emailcode.Config{Sender: l, Caps: emailcode.Caps{PerUser: 1 << 30, PerDestination: 1 << 30, PerIP: 1 << 30}})
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
	b.ReportMetric(float64(cs.Calls.Load())/float64(i), "roundtrips/op")
}

// BenchmarkVerify measures the whole verification path (normalize, hash,
// one atomic ConsumeCode) with a wrong answer, so the code is not consumed
// and no re-issuing pollutes the measurement; a right answer costs the same
// work plus a delete and the write of the last use (see
// BenchmarkVerifySuccess).
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
// the login recorded as the enrollment's last use. Each iteration sends a
// code first, outside the timing and the count.
func BenchmarkVerifySuccess(b *testing.B) {
	ctx := context.Background()
	f, cs, l := benchFactor(b)
	if _, err := f.Enrollments(ctx, alice); err != nil { // records the address
		b.Fatal(err)
	}
	b.ReportAllocs()
	var trips int64
	i := 0
	for b.Loop() {
		b.StopTimer()
		i++
		ch := challenge(fmt.Sprint("c", i), twofactor.PurposeLogin)
		if _, err := f.Send(ctx, ch, client); err != nil {
			b.Fatal(err)
		}
		before := cs.Calls.Load()
		b.StartTimer()
		if _, err := f.Verify(ctx, ch, l.code.Load().(string)); err != nil {
			b.Fatal(err)
		}
		trips += cs.Calls.Load() - before
	}
	b.ReportMetric(float64(trips)/float64(i), "roundtrips/op")
}
