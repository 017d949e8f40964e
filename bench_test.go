package twofactor_test

import (
	"context"
	"testing"
	"time"

	metricnoop "go.opentelemetry.io/otel/metric/noop"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/store"
)

func BenchmarkKeyringHash(b *testing.B) {
	kr := newKeys(b)
	data := []byte("challenge-id:123456")
	b.ReportAllocs()
	for b.Loop() {
		_ = kr.Hash("bench", data)
	}
}

func BenchmarkKeyringSignVerify(b *testing.B) {
	kr := newKeys(b)
	msg := []byte("device-id-0123456789abcdef")
	kid, sig := kr.Sign("bench", msg)
	b.Run("Sign", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = kr.Sign("bench", msg)
		}
	})
	b.Run("Verify", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if !kr.Verify("bench", kid, msg, sig) {
				b.Fatal("no verify")
			}
		}
	})
}

func BenchmarkKeyringSealOpen(b *testing.B) {
	kr := newKeys(b)
	secret := make([]byte, 20)
	ad := []byte("user/totp")
	sealed, _ := kr.Seal(secret, ad)
	b.Run("Seal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := kr.Seal(secret, ad); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Open", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := kr.Open(sealed, ad); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkBeginVerify is one full login second step with a trivial factor
// on the memory store: Begin, then a correct Verify.
func BenchmarkBeginVerify(b *testing.B) {
	mem := store.NewMemory()
	f := &codeFactor{method: twofactor.MethodTOTP, static: "654321", enrolled: map[string]bool{"alice": true}}
	svc, err := twofactor.New(twofactor.Config{
		Store: mem, Keys: newKeys(b), Factors: factors(f),
		Limits: twofactor.Limits{MaxIPAttempts: 1 << 40},
		Events: &event.Sink{Discard: true},
	})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		begun, err := svc.Begin(ctx, alice, client)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := svc.Verify(ctx, twofactor.Answer{ChallengeID: begun.Challenge.ID, Method: twofactor.MethodTOTP, Code: "654321", Client: client}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoginTelemetryCost measures what telemetry costs a login (Begin
// then a correct Verify) when the host gives OpenTelemetry's no-op
// providers: otel=noop against otel=off, a Service given no provider (what
// a login cost before telemetry existed). The two alternate in batches
// within each iteration, so that the load of the machine weighs on both
// alike; it reports each one's ns per login and their ratio, noop/off,
// which must stay below 1.05.
func BenchmarkLoginTelemetryCost(b *testing.B) {
	build := func(instrumented bool) *twofactor.Service {
		f := &codeFactor{method: twofactor.MethodTOTP, static: "654321", enrolled: map[string]bool{"alice": true}}
		cfg := twofactor.Config{
			Store: store.NewMemory(), Keys: newKeys(b), Factors: factors(f),
			Limits: twofactor.Limits{MaxIPAttempts: 1 << 40},
			Events: &event.Sink{Discard: true},
		}
		if instrumented {
			cfg.MeterProvider, cfg.TracerProvider = metricnoop.NewMeterProvider(), tracenoop.NewTracerProvider()
		}
		svc, err := twofactor.New(cfg)
		if err != nil {
			b.Fatal(err)
		}
		return svc
	}
	ctx := context.Background()
	login := func(svc *twofactor.Service) {
		begun, err := svc.Begin(ctx, alice, client)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := svc.Verify(ctx, twofactor.Answer{ChallengeID: begun.Challenge.ID, Method: twofactor.MethodTOTP, Code: "654321", Client: client}); err != nil {
			b.Fatal(err)
		}
	}
	const batch = 64
	run := func(svc *twofactor.Service) time.Duration {
		start := time.Now()
		for range batch {
			login(svc)
		}
		return time.Since(start)
	}
	off, noop := build(false), build(true)
	var tOff, tNoop time.Duration
	var n int
	for b.Loop() {
		if n%2 == 0 {
			tOff += run(off)
			tNoop += run(noop)
		} else {
			tNoop += run(noop)
			tOff += run(off)
		}
		n++
	}
	logins := float64(n * batch)
	b.ReportMetric(float64(tOff.Nanoseconds())/logins, "ns/login-off")
	b.ReportMetric(float64(tNoop.Nanoseconds())/logins, "ns/login-noop")
	b.ReportMetric(float64(tNoop)/float64(tOff), "noop/off")
}
