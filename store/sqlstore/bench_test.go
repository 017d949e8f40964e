package sqlstore_test

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twofactorkit/twofactor/store"
	"github.com/twofactorkit/twofactor/store/sqlstore"
)

// runConc runs fn b.N times in total from conc goroutines; fn gets a
// number unique in the benchmark.
func runConc(b *testing.B, conc int, fn func(i int64) error) {
	b.Helper()
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Value
	b.ResetTimer()
	for g := 0; g < conc; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(b.N) {
					return
				}
				if err := fn(i); err != nil {
					failed.CompareAndSwap(nil, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkStore measures the store's basic operations on each database,
// next to a raw SELECT 1 through the same pool: the database's round-trip
// floor. Names: Store/<db>/<op>/conc=<goroutines>.
//
// Reads3Batch is a batch (RunBatch) of the reads at the start of a login,
// a Peek, a ListEnrollments and a GetState, and Reads3Seq the same three
// calls one after the other; Writes3Batch and Writes3Seq do the same for
// the writes at its end, a ResetCounter, a TouchEnrollment and a MarkUsed.
func BenchmarkStore(b *testing.B) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			db := be.open(b)
			s := migrated(b, db, be.dialect, nil)
			ctx := context.Background()
			seedReads(b, s)
			run := 0
			for _, conc := range []int{1, 8} {
				run++
				tag := fmt.Sprintf("r%d-", run)
				ops := []struct {
					name string
					fn   func(i int64) error
				}{
					{"SelectOne", func(int64) error {
						var one int
						return db.QueryRowContext(ctx, "SELECT 1").Scan(&one)
					}},
					{"PutConsumeCode", func(i int64) error { return putConsume(ctx, s, tag, i) }},
					{"Incr", func(i int64) error {
						_, _, err := s.Incr(ctx, tag+"incr:"+strconv.FormatInt(i%64, 10), time.Minute)
						return err
					}},
					{"IncrBatch2", func(i int64) error {
						k := strconv.FormatInt(i%64, 10)
						_, err := s.IncrBatch(ctx, []store.CounterIncr{{Key: tag + "ip:" + k, Window: time.Minute}, {Key: tag + "att:" + k, Window: time.Minute}})
						return err
					}},
					{"IncrBatch2Decr", func(i int64) error {
						// The refused limit check before IncrBelow: count, then give back.
						k := strconv.FormatInt(i%64, 10)
						if _, err := s.IncrBatch(ctx, []store.CounterIncr{{Key: tag + "ip:" + k, Window: time.Minute}, {Key: tag + "att:" + k, Window: time.Minute}}); err != nil {
							return err
						}
						return s.Decr(ctx, tag+"ip:"+k)
					}},
					{"IncrBelow2", func(i int64) error {
						k := strconv.FormatInt(i%64, 10)
						_, err := s.IncrBelow(ctx, []store.BoundedIncr{{Key: tag + "ip:" + k, Window: time.Minute, Max: 1 << 40}, {Key: tag + "att:" + k, Window: time.Minute, Max: 1 << 40}})
						return err
					}},
					{"IncrBelow2Refused", func(i int64) error {
						// The first call of each pair takes "full" to its bound; the
						// others are refused.
						k := strconv.FormatInt(i%64, 10)
						_, err := s.IncrBelow(ctx, []store.BoundedIncr{{Key: tag + "ip:" + k, Window: time.Minute, Max: 1 << 40}, {Key: tag + "full:" + k, Window: time.Minute, Max: 1}})
						return err
					}},
					{"Reads3Batch", func(i int64) error {
						k := strconv.FormatInt(i%64, 10)
						return s.RunBatch(ctx, []store.Op{
							{Kind: store.OpPeek, Key: "rd:fail:" + k},
							{Kind: store.OpListEnrollments, UserID: "rd:u:" + k},
							{Kind: store.OpGetState, Key: "rd:st:" + k},
						})
					}},
					{"Reads3Seq", func(i int64) error {
						k := strconv.FormatInt(i%64, 10)
						if _, _, err := s.Peek(ctx, "rd:fail:"+k); err != nil {
							return err
						}
						if _, err := s.ListEnrollments(ctx, "rd:u:"+k); err != nil {
							return err
						}
						_, err := s.GetState(ctx, "rd:st:"+k)
						return err
					}},
					{"Writes3Batch", func(i int64) error {
						k := strconv.FormatInt(i%64, 10)
						return s.RunBatch(ctx, []store.Op{
							{Kind: store.OpResetCounter, Key: tag + "fail:" + k},
							{Kind: store.OpTouchEnrollment, UserID: "rd:u:" + k, ID: "e1", Time: time.Now()},
							{Kind: store.OpMarkUsed, Key: tag + "m:" + strconv.FormatInt(i, 10), Time: time.Now().Add(time.Minute)},
						})
					}},
					{"Writes3Seq", func(i int64) error {
						k := strconv.FormatInt(i%64, 10)
						if err := s.ResetCounter(ctx, tag+"fail:"+k); err != nil {
							return err
						}
						if err := s.TouchEnrollment(ctx, "rd:u:"+k, "e1", time.Now()); err != nil {
							return err
						}
						_, err := s.MarkUsed(ctx, tag+"m:"+strconv.FormatInt(i, 10), time.Now().Add(time.Minute))
						return err
					}},
					{"PutTakeState", func(i int64) error {
						k := tag + "st:" + strconv.FormatInt(i, 10)
						if err := s.PutState(ctx, k, []byte("challenge-json"), time.Now().Add(time.Minute)); err != nil {
							return err
						}
						_, err := s.TakeState(ctx, k)
						return err
					}},
				}
				base, calls := tag, 0
				for _, op := range ops {
					b.Run(fmt.Sprintf("%s/conc=%d", op.name, conc), func(b *testing.B) {
						b.ReportAllocs()
						// Keys of their own for each call of the function (the
						// benchmark calls it again with a larger b.N), of a
						// bounded length.
						calls++
						tag = fmt.Sprintf("%s%s%d-", base, op.name, calls)
						runConc(b, conc, op.fn)
					})
				}
			}
		})
	}
}

// seedReads writes what the Reads3 and Writes3 benchmarks read and touch:
// for 64 users, a counter, a state and an enrollment.
func seedReads(b *testing.B, s *sqlstore.Store) {
	b.Helper()
	ctx := context.Background()
	now := time.Now()
	for n := range 64 {
		k := strconv.Itoa(n)
		if _, _, err := s.Incr(ctx, "rd:fail:"+k, 24*time.Hour); err != nil {
			b.Fatal(err)
		}
		if err := s.PutState(ctx, "rd:st:"+k, []byte("challenge-json"), now.Add(24*time.Hour)); err != nil {
			b.Fatal(err)
		}
		rec := store.EnrollmentRecord{UserID: "rd:u:" + k, ID: "e1", Method: "totp", Label: "Phone", Data: []byte("sealed-secret"), CreatedAt: now}
		if err := s.PutEnrollment(ctx, rec); err != nil {
			b.Fatal(err)
		}
	}
}

func putConsume(ctx context.Context, s *sqlstore.Store, tag string, i int64) error {
	g := tag + "code:" + strconv.FormatInt(i, 10)
	if err := s.PutCode(ctx, store.Code{Group: g, Key: "email", Hash: []byte("0123456789abcdef0123456789abcdef"), ExpiresAt: time.Now().Add(time.Minute), MaxAttempts: 5}); err != nil {
		return err
	}
	st, err := s.ConsumeCode(ctx, g, "email", []byte("0123456789abcdef0123456789abcdef"))
	if err == nil && st != store.CodeMatched {
		err = fmt.Errorf("consume: %v", st)
	}
	return err
}
