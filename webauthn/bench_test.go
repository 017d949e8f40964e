package webauthn_test

import (
	"testing"
)

func BenchmarkStart(b *testing.B) {
	fx := newFixture(b)
	fx.register(newSoftKey(b, testRPID, testOrigin), "key")
	ch := fx.challenge()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := fx.f.Start(fx.ctx, ch); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCheckAnswer(b *testing.B) {
	fx := newFixture(b)
	k := newSoftKey(b, testRPID, testOrigin)
	fx.register(k, "key")
	opts, err := fx.f.Start(fx.ctx, fx.challenge())
	if err != nil {
		b.Fatal(err)
	}
	answer := string(k.get(b, opts))
	b.ReportAllocs()
	for b.Loop() {
		if err := fx.f.CheckAnswer(answer); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerify measures the server's work for one login answer; the
// authenticator's signing is done outside the timer.
func BenchmarkVerify(b *testing.B) {
	fx := newFixture(b)
	k := newSoftKey(b, testRPID, testOrigin)
	fx.register(k, "key")
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		ch := fx.challenge()
		opts, err := fx.f.Start(fx.ctx, ch)
		if err != nil {
			b.Fatal(err)
		}
		answer := string(k.get(b, opts))
		b.StartTimer()
		if _, err := fx.f.Verify(fx.ctx, ch, answer); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkConfirmEnroll measures verifying and storing a new credential;
// the authenticator's work is outside the timer.
func BenchmarkConfirmEnroll(b *testing.B) {
	fx := newFixture(b)
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		fx.user.ID = "bench-user" // one credential per user: stay under MaxCredentials
		_ = fx.f.RemoveAll(fx.ctx, fx.user)
		resp := newSoftKey(b, testRPID, testOrigin).create(b, fx.begin("key"))
		b.StartTimer()
		if _, err := fx.f.ConfirmEnroll(fx.ctx, fx.user, string(resp)); err != nil {
			b.Fatal(err)
		}
	}
}
