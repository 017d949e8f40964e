package backupcodes

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/keyring"
	"github.com/twofactorkit/twofactor/store"
)

// BenchmarkVerify measures Verify of a correct backup code with 10 and
// 1,000 codes stored for the user (the time must not grow with the number
// of codes), against a design that keeps a bcrypt hash per code and checks
// the stored hashes in turn (cost 10, 10 codes, the right one last).
//
// A verified code is consumed, so each iteration puts it back with one
// store.PutCode; that call is included in the figures, and measured alone
// by put-back-only. The clock moves past SubmitWindow between iterations,
// so a code comes back as a fresh submission, and the count of uses is
// started again every 64 iterations (two store calls, a few ns per
// iteration), so the set never runs low. keyed-hash-wrong-code is a well-formed wrong code: the path every
// guess takes. Besides ns/op, each sub-benchmark reports cpu-ns/op, the
// process's CPU time per operation, which a busy machine does not
// inflate.
func BenchmarkVerify(b *testing.B) {
	ctx := context.Background()
	for _, n := range []int{10, 1000} {
		b.Run(fmt.Sprintf("keyed-hash/codes=%d", n), func(b *testing.B) {
			bf := benchFactor(b, n)
			ch := &twofactor.Challenge{ID: "bench", User: twofactor.User{ID: benchUser}}
			b.ReportAllocs()
			defer reportCPU(b)()
			i := 0
			for b.Loop() {
				j := i % n
				i++
				if i%64 == 0 {
					bf.restartUses(b) // two store calls per 64 iterations
				}
				bf.tick()
				if _, err := bf.f.Verify(ctx, ch, bf.plain[j]); err != nil {
					b.Fatal(err)
				}
				if err := bf.mem.PutCode(ctx, bf.hashed[j]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	for _, n := range []int{10, 1000} {
		b.Run(fmt.Sprintf("keyed-hash-wrong-code/codes=%d", n), func(b *testing.B) {
			bf := benchFactor(b, n)
			ch := &twofactor.Challenge{ID: "bench", User: twofactor.User{ID: benchUser}}
			b.ReportAllocs()
			defer reportCPU(b)()
			for b.Loop() {
				bf.tick()
				if _, err := bf.f.Verify(ctx, ch, "zzzz-zzzz-zzzz"); err == nil {
					b.Fatal("wrong code verified")
				}
			}
		})
	}
	// The store.PutCode that keyed-hash puts back the used code with, alone,
	// to subtract from its figures.
	for _, n := range []int{10, 1000} {
		b.Run(fmt.Sprintf("put-back-only/codes=%d", n), func(b *testing.B) {
			bf := benchFactor(b, n)
			b.ReportAllocs()
			defer reportCPU(b)()
			i := 0
			for b.Loop() {
				if err := bf.mem.PutCode(ctx, bf.hashed[i%n]); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
	b.Run("bcrypt-per-code/codes=10", func(b *testing.B) {
		const n = 10
		plain := benchFactor(b, n).plain
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

const benchUser = "bench-user"

// benchSet is a factor whose user benchUser has a set of backup codes on a
// memory store with a clock that tick moves on.
type benchSet struct {
	f      *Factor
	mem    *store.Memory
	clock  atomic.Int64 // nanoseconds since the Unix epoch
	plain  []string     // the codes as shown
	hashed []store.Code // the codes as stored
}

func (bs *benchSet) now() time.Time { return time.Unix(0, bs.clock.Load()) }

// tick moves the clock past SubmitWindow: every code is a fresh
// submission.
func (bs *benchSet) tick() { bs.clock.Add(int64(SubmitWindow + time.Second)) }

// restartUses starts the count of the set's uses again, as BeginEnroll
// does, so the set never runs low.
func (bs *benchSet) restartUses(b *testing.B) {
	ctx := context.Background()
	if err := bs.mem.ResetCounter(ctx, usesKey(bs.f.count, benchUser)); err != nil {
		b.Fatal(err)
	}
	if _, _, err := bs.mem.Incr(ctx, usesKey(bs.f.count, benchUser), usesWindow); err != nil {
		b.Fatal(err)
	}
}

// benchFactor returns a factor whose user has n backup codes, stored as
// BeginEnroll stores a set (its record, its count of uses) but for its
// size: BeginEnroll makes at most MaxCount codes.
func benchFactor(b *testing.B, n int) *benchSet {
	b.Helper()
	key, err := keyring.GenerateKey("bench")
	if err != nil {
		b.Fatal(err)
	}
	keys, err := keyring.New(key)
	if err != nil {
		b.Fatal(err)
	}
	bs := &benchSet{}
	bs.clock.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	bs.mem = store.NewMemory(bs.now)
	bs.f, err = New(twofactor.Env{Store: bs.mem, Keys: keys, Events: &event.Sink{Discard: true}, Now: bs.now}, Config{Count: MaxCount})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if _, err := bs.f.BeginEnroll(ctx, twofactor.User{ID: benchUser}, twofactor.EnrollRequest{}); err != nil {
		b.Fatal(err)
	}
	bs.plain, bs.hashed, err = bs.f.newSet(benchUser, n)
	if err != nil {
		b.Fatal(err)
	}
	if err := bs.mem.DeleteGroup(ctx, group(kindBackup, benchUser)); err != nil {
		b.Fatal(err)
	}
	for _, c := range bs.hashed {
		if err := bs.mem.PutCode(ctx, c); err != nil {
			b.Fatal(err)
		}
	}
	if !strings.Contains(bs.plain[0], "-") {
		b.Fatal("codes are not formatted")
	}
	return bs
}
