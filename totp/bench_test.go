package totp

import (
	"context"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	pqtotp "github.com/pquerna/otp/totp"
	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/keyring"
	"github.com/twofactorkit/twofactor/store"
)

// benchSecrets is how many distinct secrets (and users) the benchmarks
// cycle through.
const benchSecrets = 1024

type benchCase struct {
	e      *enrolled
	b32    string
	hits   string // round r's code (6 digits) at [6r:6r+6]: the current step's
	misses string // the same for codes that match no step of the window
}

// The codes of round r: substrings of one string per case, so the tables
// hold few pointers and the garbage collector has little to scan.
func (c *benchCase) hit(r int) string  { return c.hits[6*r : 6*r+6] }
func (c *benchCase) miss(r int) string { return c.misses[6*r : 6*r+6] }

// BenchmarkVerify compares verifying one code with this package (code match
// plus the replay ledger on a memory store: Factor.Verify minus loading and
// decrypting the enrollment, which also builds its ledger key) and with
// pquerna's totp.ValidateCustom (no replay check), on the same secrets and
// times, skew 1. "hit" codes are for the current step; "miss" codes match no
// step of the window. BenchmarkFactorVerify measures the whole path.
func BenchmarkVerify(b *testing.B) {
	for _, kind := range []string{"hit", "miss"} {
		b.Run("twofactor/"+kind, func(b *testing.B) { benchOurs(b, kind == "hit") })
		b.Run("pquerna/"+kind, func(b *testing.B) { benchPquerna(b, kind == "hit") })
	}
}

var benchBase = time.Unix(1_700_000_010, 0)

// benchSetup makes benchSecrets secrets and, for round r, the time
// benchBase+r*30s with each secret's code at that time (hit) or a code that
// matches none of the three steps around it (miss).
func benchSetup(b *testing.B, rounds int) []benchCase {
	b.Helper()
	rng := rand.New(rand.NewPCG(7, 7))
	p := DefaultParams
	cases := make([]benchCase, benchSecrets)
	for i := range cases {
		secret := make([]byte, 20)
		for j := range secret {
			secret[j] = byte(rng.Uint32())
		}
		c := &cases[i]
		c.b32 = EncodeSecret(secret)
		c.e = &enrolled{
			rec:    store.EnrollmentRecord{UserID: "user" + strconv.Itoa(i), ID: "e" + strconv.Itoa(i)},
			data:   record{V: 1, Params: p},
			secret: secret,
		}
		c.e.ledger = ledgerKey(c.e.rec.UserID, c.e.rec.ID)
		var hits, misses strings.Builder
		for r := range rounds {
			at := benchBase.Add(time.Duration(r) * 30 * time.Second)
			hits.WriteString(p.Code(secret, at))
			var miss string
			for k := 0; ; k++ {
				miss = strconv.Itoa(100000 + (rng.IntN(900000)+k)%900000)
				if _, _, ok, _ := p.Match(secret, miss, at, 1); !ok {
					break
				}
			}
			misses.WriteString(miss)
		}
		c.hits, c.misses = hits.String(), misses.String()
	}
	return cases
}

func benchOurs(b *testing.B, hit bool) {
	rounds := b.N/benchSecrets + 1
	cases := benchSetup(b, rounds)
	cur := benchBase
	kr, err := keyring.New(keyring.Key{ID: "k", Secret: make([]byte, keyring.KeySize)})
	if err != nil {
		b.Fatal(err)
	}
	f, err := New(twofactor.Env{Store: store.NewMemory(func() time.Time { return cur }), Keys: kr,
		Now: func() time.Time { return cur }, Events: &event.Sink{Discard: true}}, Config{})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	defer reportCPU(b)()
	for i := 0; i < b.N; i++ {
		c, r := &cases[i%benchSecrets], i/benchSecrets
		cur = benchBase.Add(time.Duration(r) * 30 * time.Second)
		if hit {
			step, off, err := f.match(c.e, c.hit(r), cur)
			if err == nil {
				err = f.mark(ctx, c.e, step, off)
			}
			if err != nil {
				b.Fatal(err)
			}
		} else if _, _, err := f.match(c.e, c.miss(r), cur); err != twofactor.ErrInvalidCode {
			b.Fatal("miss accepted", err)
		}
	}
}

func benchPquerna(b *testing.B, hit bool) {
	rounds := b.N/benchSecrets + 1
	cases := benchSetup(b, rounds)
	opts := pqtotp.ValidateOpts{Period: 30, Skew: 1, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}
	b.ReportAllocs()
	b.ResetTimer()
	defer reportCPU(b)()
	for i := 0; i < b.N; i++ {
		c, r := &cases[i%benchSecrets], i/benchSecrets
		at := benchBase.Add(time.Duration(r) * 30 * time.Second)
		code := c.miss(r)
		if hit {
			code = c.hit(r)
		}
		ok, err := pqtotp.ValidateCustom(code, c.b32, at, opts)
		if err != nil || ok != hit {
			b.Fatal("unexpected result", ok, err)
		}
	}
}

// BenchmarkFactorVerify is the whole Factor.Verify on a memory store:
// listing the enrollment, decoding and decrypting it, matching, the replay
// ledger, and recording the last use. "touch" records it with the store's
// TouchEnrollment; "rewrite" hides that method, so the factor reads the
// record again and rewrites it (with the removal check), as it does on a
// store without store.EnrollmentToucher.
func BenchmarkFactorVerify(b *testing.B) {
	b.Run("touch", func(b *testing.B) { benchFactorVerify(b, false) })
	b.Run("rewrite", func(b *testing.B) { benchFactorVerify(b, true) })
}

// untouchable hides the store's TouchEnrollment.
type untouchable struct{ store.Store }

func benchFactorVerify(b *testing.B, rewrite bool) {
	cur := benchBase
	now := func() time.Time { return cur }
	var st store.Store = store.NewMemory(now)
	if rewrite {
		st = untouchable{st}
	}
	kr, err := keyring.New(keyring.Key{ID: "k", Secret: make([]byte, keyring.KeySize)})
	if err != nil {
		b.Fatal(err)
	}
	f, err := New(twofactor.Env{Store: st, Keys: kr, Now: now, Events: &event.Sink{Discard: true}}, Config{})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	u := twofactor.User{ID: "u"}
	p, err := f.BeginEnroll(ctx, u, twofactor.EnrollRequest{})
	if err != nil {
		b.Fatal(err)
	}
	secret, _ := DecodeSecret(p.Secret)
	if _, err := f.ConfirmEnroll(ctx, u, DefaultParams.Code(secret, cur)); err != nil {
		b.Fatal(err)
	}
	codes := make([]string, b.N)
	for i := range codes {
		codes[i] = DefaultParams.Code(secret, benchBase.Add(time.Duration(i+1)*30*time.Second))
	}
	ch := &twofactor.Challenge{User: u}
	b.ReportAllocs()
	b.ResetTimer()
	defer reportCPU(b)()
	for i := 0; i < b.N; i++ {
		cur = benchBase.Add(time.Duration(i+1) * 30 * time.Second)
		if _, err := f.Verify(ctx, ch, codes[i]); err != nil {
			b.Fatal(err)
		}
	}
}

// reportCPU starts measuring CPU time; the returned function reports it as
// "cpu-ns/op", which a loaded machine disturbs less than ns/op.
func reportCPU(b *testing.B) func() {
	start := cpuTime()
	return func() {
		b.StopTimer()
		b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
	}
}
