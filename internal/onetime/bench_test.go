package onetime

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/internal/storespy"
	"github.com/twofactorkit/twofactor/store"
)

func benchIssuer(b *testing.B) (*Issuer, *storespy.Spy) {
	cs := storespy.New(store.NewMemory())
	is, err := New("bench", twofactor.Env{Store: cs, Keys: testKeys(b)}, Config{Channel: "bench",
		Caps: Caps{PerUser: 1 << 30, PerDestination: 1 << 30, PerIP: 1 << 30}, CapDefaults: testCaps})
	if err != nil {
		b.Fatal(err)
	}
	return is, cs
}

func noDeliver(context.Context, string, time.Time) error { return nil }

func BenchmarkIssue(b *testing.B) {
	ctx := context.Background()
	is, cs := benchIssuer(b)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		if _, err := is.Issue(ctx, req("g"+strconv.Itoa(i)), noDeliver); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(cs.Calls.Load())/float64(i), "roundtrips/op")
}

func BenchmarkVerify(b *testing.B) {
	ctx := context.Background()
	is, cs := benchIssuer(b)
	r := req("g")
	code := "123456"
	b.ReportAllocs()
	var trips int64
	for b.Loop() {
		// Store a code outside the count, then verify it: the success path.
		if err := cs.PutCode(ctx, store.Code{Group: is.group("g"), Key: "login", Hash: is.hash(r, code), MaxAttempts: 5}); err != nil {
			b.Fatal(err)
		}
		before := cs.Calls.Load()
		if err := is.Verify(ctx, r, code); err != nil {
			b.Fatal(err)
		}
		trips += cs.Calls.Load() - before
	}
	b.ReportMetric(float64(trips)/float64(b.N), "roundtrips/op")
}
