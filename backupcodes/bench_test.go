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
// store.PutCode; that call is included in the figures.
func BenchmarkVerify(b *testing.B) {
	ctx := context.Background()
	for _, n := range []int{10, 1000} {
		b.Run(fmt.Sprintf("keyed-hash/codes=%d", n), func(b *testing.B) {
			f, mem, plain, hashed := benchFactor(b, n)
			ch := &twofactor.Challenge{ID: "bench", User: twofactor.User{ID: "bench-user"}}
			b.ReportAllocs()
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
	b.Run("keyed-hash-wrong-code/codes=1000", func(b *testing.B) {
		f, _, _, _ := benchFactor(b, 1000)
		ch := &twofactor.Challenge{ID: "bench", User: twofactor.User{ID: "bench-user"}}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := f.Verify(ctx, ch, "zzzz-zzzz-zzzz"); err == nil {
				b.Fatal("wrong code verified")
			}
		}
	})
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
