package store_test

import (
	"context"
	"fmt"
	"time"

	"github.com/twofactorkit/twofactor/store"
)

// A one-time code is stored as a hash and consumed atomically: the right
// hash matches once, a wrong one uses an attempt.
func ExampleMemory() {
	ctx := context.Background()
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	m := store.NewMemory(func() time.Time { return now })

	_ = m.PutCode(ctx, store.Code{Group: "challenge-1", Key: "email", Hash: []byte("keyed-hash"), ExpiresAt: now.Add(15 * time.Minute), MaxAttempts: 5})
	st, _ := m.ConsumeCode(ctx, "challenge-1", "email", []byte("wrong"))
	fmt.Println(st)
	st, _ = m.ConsumeCode(ctx, "challenge-1", "email", []byte("keyed-hash"))
	fmt.Println(st)
	st, _ = m.ConsumeCode(ctx, "challenge-1", "email", []byte("keyed-hash"))
	fmt.Println(st)

	n, reset, _ := m.Incr(ctx, "ip:192.0.2.1", time.Hour)
	fmt.Println(n, reset.Sub(now))
	// Output:
	// mismatch
	// matched
	// not_found
	// 1 1h0m0s
}

// A code checked in the round trip that counts the answer, but only when
// the count admits it (Op.If names the count, one based): the third
// answer of a challenge that allows two is refused by the count, and the
// code is not touched.
func ExampleRunBatch_conditional() {
	ctx := context.Background()
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	m := store.NewMemory(func() time.Time { return now })
	_ = m.PutCode(ctx, store.Code{Group: "challenge-1", Key: "email", Hash: []byte("keyed-hash"), ExpiresAt: now.Add(15 * time.Minute)})

	for _, answer := range []string{"wrong", "also wrong", "keyed-hash"} {
		ops := []store.Op{
			{Kind: store.OpIncrBelow, Incrs: []store.BoundedIncr{{Key: "answers:challenge-1", Window: 15 * time.Minute, Max: 2}}},
			{Kind: store.OpConsumeCode, Group: "challenge-1", Key: "email", Hash: []byte(answer), If: 1},
		}
		if err := store.RunBatch(ctx, m, ops, now); err != nil {
			fmt.Println(err)
			return
		}
		if ops[1].Skipped {
			fmt.Println("refused by the count; code not checked")
			continue
		}
		fmt.Println(ops[1].Status)
	}
	// Output:
	// mismatch
	// mismatch
	// refused by the count; code not checked
}
