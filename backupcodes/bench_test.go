package backupcodes

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/store"
)

// BenchmarkVerify measures Verify of a correct backup code with 10 and
// 1,000 codes stored for the user (the time must not grow with the number
// of codes), against a design that keeps a bcrypt hash per code and checks
// the stored hashes in turn (cost 10, 10 codes, the right one last).
//
// A verified code is consumed, so each iteration puts it back with one
// store.PutCode; that call is included in the figures, and measured alone
// by put-back-only. keyed-hash-wrong-code is a well-formed wrong code: the
// path every guess takes. Besides ns/op, each
// sub-benchmark reports cpu-ns/op, the process's CPU time per operation,
// which a busy machine does not inflate.
func BenchmarkVerify(b *testing.B) {
	ctx := context.Background()
	for _, n := range []int{10, 1000} {
		b.Run(fmt.Sprintf("keyed-hash/codes=%d", n), func(b *testing.B) {
			f, mem, plain, hashed := benchFactor(b, n)
			ch := &twofactor.Challenge{ID: "bench", User: twofactor.User{ID: "bench-user"}}
			b.ReportAllocs()
			defer reportCPU(b)()
			i := 0
			for b.Loop() {
				j := i % n
				i++
				if _, err := f.Verify(ctx, ch, plain[j]); err != nil {
					b.Fatal(err)
				}
				if err := mem.PutCode(ctx, hashed[j]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	for _, n := range []int{10, 1000} {
		b.Run(fmt.Sprintf("keyed-hash-wrong-code/codes=%d", n), func(b *testing.B) {
			f, _, _, _ := benchFactor(b, n)
			ch := &twofactor.Challenge{ID: "bench", User: twofactor.User{ID: "bench-user"}}
			b.ReportAllocs()
			defer reportCPU(b)()
			for b.Loop() {
				if _, err := f.Verify(ctx, ch, "zzzz-zzzz-zzzz"); err == nil {
					b.Fatal("wrong code verified")
				}
			}
		})
	}
	// The store.PutCode that keyed-hash puts back the used code with, alone,
	// to subtract from its figures.
	for _, n := range []int{10, 1000} {
		b.Run(fmt.Sprintf("put-back-only/codes=%d", n), func(b *testing.B) {
			_, mem, _, hashed := benchFactor(b, n)
			b.ReportAllocs()
			defer reportCPU(b)()
			i := 0
			for b.Loop() {
				if err := mem.PutCode(ctx, hashed[i%n]); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
	b.Run("bcrypt-per-code/codes=10", func(b *testing.B) {
		const n = 10
		_, _, plain, _ := benchFactor(b, n)
		hashes := make([][]byte, n)
		for i, p := range plain {
			h, err := bcrypt.GenerateFromPassword([]byte(p), 10)
			if err != nil {
				b.Fatal(err)
			}
			hashes[i] = h
		}
		answer := []byte(plain[n-1])
		b.ReportAllocs()
		defer reportCPU(b)()
		for b.Loop() {
			matched := -1
			for i, h := range hashes {
				if bcrypt.CompareHashAndPassword(h, answer) == nil {
					matched = i
					break
				}
			}
			if matched != n-1 {
				b.Fatal("no match")
			}
		}
	})
}

// reportCPU starts measuring the process's CPU time; the function it
// returns reports it per operation as "cpu-ns/op". On a busy machine ns/op
// (wall time) includes waiting for a core; cpu-ns/op does not.
func reportCPU(b *testing.B) func() {
	start, ok := cpuTime()
	return func() {
		end, ok2 := cpuTime()
		if ok && ok2 && b.N > 0 {
			b.ReportMetric(float64(end-start)/float64(b.N), "cpu-ns/op")
		}
	}
}

// benchFactor returns a factor whose user "bench-user" has n backup codes,
// the memory store holding them, the codes as shown and as stored.
func benchFactor(b *testing.B, n int) (*Factor, *store.Memory, []string, []store.Code) {
	b.Helper()
	key, err := twofactor.GenerateKey("bench")
	if err != nil {
		b.Fatal(err)
	}
	keys, err := twofactor.NewKeyring(key)
	if err != nil {
		b.Fatal(err)
	}
	mem := store.NewMemory(nil)
	f, err := New(Config{Store: mem, Keys: keys, Events: &twofactor.Events{Discard: true}})
	if err != nil {
		b.Fatal(err)
	}
	plain, hashed, err := f.newSet("bench-user", n)
	if err != nil {
		b.Fatal(err)
	}
	// The set's tally, as Generate stores it, sized for the benchmark: the
	// loop puts every used code back, so the set never runs low.
	tally := store.Code{Group: tallyGroup("bench-user"), Key: tallyKey, Hash: tallyHash, MaxAttempts: 1 << 40}
	for _, c := range append(hashed, tally) {
		if err := mem.PutCode(context.Background(), c); err != nil {
			b.Fatal(err)
		}
	}
	if !strings.Contains(plain[0], "-") {
		b.Fatal("codes are not formatted")
	}
	return f, mem, plain, hashed
}
