package flowtest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/emailcode"
	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/internal/storespy"
	"github.com/twofactorkit/twofactor/keyring"
	"github.com/twofactorkit/twofactor/store"
)

// Parallelisms are the goroutine counts the login benchmarks run at.
var Parallelisms = []int{1, 8, 64}

// BenchLogin measures complete login flows (Begin, Send an email code,
// Verify it) on st, with n goroutines for each n in Parallelisms. raw is one
// round trip of the bare server through the same pool (SELECT 1, PING); it
// runs in the same benchmark, after the flows, as many times as the flows
// made round trips, so the two figures come from one run on one machine.
//
// Metrics: flows/s; roundtrips/flow (store calls per flow, a batch of
// counters counting as one); raw-ops/s; and limit-fraction, the flows/s
// reached divided by the flows/s the raw round-trip rate would allow
// (raw-ops/s / roundtrips/flow). 1.0 would mean the library adds nothing to
// the store's own cost.
//
// Baselines add more raw operations measured the same way (for a SQL
// store, a durable one-row write: commits cost what reads do not); each
// reports <name>-ops/s and limit-fraction-<name>.
func BenchLogin(b *testing.B, st store.Store, raw func(context.Context) error, baselines ...Baseline) {
	for _, par := range Parallelisms {
		b.Run(fmt.Sprintf("goroutines=%d", par), func(b *testing.B) {
			benchLogin(b, st, raw, par, baselines)
		})
	}
}

// A Baseline is one more raw server operation to compare flows with.
type Baseline struct {
	Name string
	Op   func(context.Context) error
}

func benchLogin(b *testing.B, st store.Store, raw func(context.Context) error, par int, baselines []Baseline) {
	ctx := context.Background()
	cs := storespy.New(st)
	key, err := keyring.GenerateKey("bench")
	if err != nil {
		b.Fatal(err)
	}
	keys, _ := keyring.New(key)
	mail := &Mailbox{}
	events := &event.Sink{Discard: true}
	svc, err := twofactor.New(twofactor.Config{Store: cs, Keys: keys,
		Factors: []twofactor.FactorConfig{emailcode.Config{Sender: mail,
			Caps: emailcode.Caps{PerUser: 1 << 30, PerDestination: 1 << 30, PerIP: 1 << 30}}},
		Limits: twofactor.Limits{MaxIPAttempts: 1 << 30}, Events: events})
	if err != nil {
		b.Fatal(err)
	}
	run := fmt.Sprintf("%d", time.Now().UnixNano())
	flow := func(g int) error {
		user := twofactor.User{ID: "bench-" + run + "-" + fmt.Sprint(g), Email: fmt.Sprintf("b%s-%d@example.com", run, g)}
		begun, err := svc.Begin(ctx, user, client)
		if err != nil {
			return err
		}
		if _, err := svc.Send(ctx, begun.Challenge.ID, twofactor.MethodEmail, client); err != nil {
			return err
		}
		code, err := mail.Code(user.Email)
		if err != nil {
			return err
		}
		_, err = svc.Verify(ctx, twofactor.Answer{ChallengeID: begun.Challenge.ID, Method: twofactor.MethodEmail, Code: code, UserID: user.ID, Client: client})
		return err
	}
	cs.Calls.Store(0)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	if err := spread(b.N, par, flow); err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	trips := float64(cs.Calls.Load()) / float64(b.N)
	flowsPerSec := float64(b.N) / elapsed.Seconds()

	rate := func(op func(context.Context) error) float64 {
		n := int(float64(b.N)*trips + 0.5)
		start := time.Now()
		if err := spread(n, par, func(int) error { return op(ctx) }); err != nil {
			b.Fatal(err)
		}
		return float64(n) / time.Since(start).Seconds()
	}
	rawPerSec := rate(raw)
	b.ReportMetric(flowsPerSec, "flows/s")
	b.ReportMetric(trips, "roundtrips/flow")
	b.ReportMetric(rawPerSec, "raw-ops/s")
	b.ReportMetric(flowsPerSec/(rawPerSec/trips), "limit-fraction")
	for _, bl := range baselines {
		r := rate(bl.Op)
		b.ReportMetric(r, bl.Name+"-ops/s")
		b.ReportMetric(flowsPerSec/(r/trips), "limit-fraction-"+bl.Name)
	}
}

// spread runs fn n times from par goroutines; fn gets the goroutine number.
func spread(n, par int, fn func(g int) error) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for g := 0; g < par; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				if err := fn(g); err != nil {
					once.Do(func() { first = err })
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}
