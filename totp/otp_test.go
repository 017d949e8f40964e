package totp

import (
	"bytes"
	"encoding/base32"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	pqtotp "github.com/pquerna/otp/totp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twofactorkit/twofactor"
)

// RFC 6238 appendix B: the seeds are the ASCII digits repeated to the
// hash's output size.
var (
	rfcSHA1   = []byte("12345678901234567890")
	rfcSHA256 = []byte("12345678901234567890123456789012")
	rfcSHA512 = []byte("1234567890123456789012345678901234567890123456789012345678901234")
)

func TestRFC6238Vectors(t *testing.T) {
	tests := []struct {
		unix               int64
		sha1, sha256, s512 string
	}{
		{59, "94287082", "46119246", "90693936"},
		{1111111109, "07081804", "68084774", "25091201"},
		{1111111111, "14050471", "67062674", "99943326"},
		{1234567890, "89005924", "91819424", "93441116"},
		{2000000000, "69279037", "90698825", "38618901"},
		{20000000000, "65353130", "77737706", "47863826"},
	}
	for _, tt := range tests {
		at := time.Unix(tt.unix, 0).UTC()
		for _, c := range []struct {
			alg    Algorithm
			secret []byte
			want   string
		}{{SHA1, rfcSHA1, tt.sha1}, {SHA256, rfcSHA256, tt.sha256}, {SHA512, rfcSHA512, tt.s512}} {
			t.Run(string(c.alg)+"/"+at.Format(time.RFC3339), func(t *testing.T) {
				p := Params{Algorithm: c.alg, Digits: 8, Period: 30}
				assert.Equal(t, c.want, p.Code(c.secret, at), "our code")

				pq, err := pqtotp.GenerateCodeCustom(base32.StdEncoding.EncodeToString(c.secret), at, pqOpts(p))
				require.NoError(t, err)
				assert.Equal(t, c.want, pq, "pquerna's code")

				step, off, ok, err := p.Match(c.secret, c.want, at, 0)
				require.NoError(t, err)
				assert.True(t, ok)
				assert.Equal(t, 0, off)
				assert.Equal(t, tt.unix/30, step)
			})
		}
	}
}

func pqOpts(p Params) pqtotp.ValidateOpts {
	alg := map[Algorithm]otp.Algorithm{SHA1: otp.AlgorithmSHA1, SHA256: otp.AlgorithmSHA256, SHA512: otp.AlgorithmSHA512}[p.Algorithm]
	return pqtotp.ValidateOpts{Period: uint(p.Period), Digits: otp.Digits(p.Digits), Algorithm: alg}
}

// TestAgreesWithPquerna compares our codes and Match with pquerna's on
// 10,000 random secrets and times, for every algorithm and digit count.
func TestAgreesWithPquerna(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	algs := []Algorithm{SHA1, SHA256, SHA512}
	for i := range 10000 {
		p := Params{Algorithm: algs[i%3], Digits: 6 + 2*(i/3%2), Period: []int{30, 30, 60, 15}[i%4]}
		secret := make([]byte, 10+rng.IntN(MaxSecretSize-10+1)) // includes keys longer than a hash block
		for j := range secret {
			secret[j] = byte(rng.Uint32())
		}
		at := time.Unix(rng.Int64N(1<<34), 0)
		want, err := pqtotp.GenerateCodeCustom(EncodeSecret(secret), at, pqOpts(p))
		require.NoError(t, err)
		if got := p.Code(secret, at); got != want {
			t.Fatalf("secret %x at %d %+v: got %s, pquerna %s", secret, at.Unix(), p, got, want)
		}
		if i%10 != 0 {
			continue
		}
		// A code from one step later matches with skew 1 at the step it
		// was made for, and pquerna's validator agrees that it is valid.
		next, err := pqtotp.GenerateCodeCustom(EncodeSecret(secret), at.Add(time.Duration(p.Period)*time.Second), pqOpts(p))
		require.NoError(t, err)
		step, off, ok, err := p.Match(secret, next, at, 1)
		require.NoError(t, err)
		opts := pqOpts(p)
		opts.Skew = 1
		pqOK, err := pqtotp.ValidateCustom(next, EncodeSecret(secret), at, opts)
		require.NoError(t, err)
		require.Equal(t, pqOK, ok)
		require.True(t, ok)
		require.Equal(t, p.Step(at)+int64(off), step)
		require.Equal(t, next, p.StepCode(secret, step), "the step reported is one whose code was typed")
	}
}

func TestMatchSkewEdges(t *testing.T) {
	p := DefaultParams
	secret := rfcSHA1
	base := time.Unix(1_700_000_020, 0) // 10 s into its step
	tests := []struct {
		name   string
		codeAt time.Duration // when the app computed the code, relative to base
		skew   int
		ok     bool
		off    int
	}{
		{"current", 0, 1, true, 0},
		{"previous", -30 * time.Second, 1, true, -1},
		{"next", 30 * time.Second, 1, true, 1},
		{"two back, skew 1", -60 * time.Second, 1, false, 0},
		{"two ahead, skew 1", 60 * time.Second, 1, false, 0},
		{"two back, skew 2", -60 * time.Second, 2, true, -2},
		{"two ahead, skew 2", 60 * time.Second, 2, true, 2},
		{"three ahead, skew 2", 90 * time.Second, 2, false, 0},
		{"previous, no skew", -30 * time.Second, 0, false, 0},
		{"current, no skew", 0, 0, true, 0},
		{"last second of previous step", -11 * time.Second, 1, true, -1},
		{"first second of step", -10 * time.Second, 0, true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code := p.Code(secret, base.Add(tt.codeAt))
			step, off, ok, err := p.Match(secret, code, base, tt.skew)
			require.NoError(t, err)
			require.Equal(t, tt.ok, ok)
			if ok {
				assert.Equal(t, tt.off, off)
				assert.Equal(t, p.Step(base)+int64(tt.off), step)
			}
		})
	}
}

func TestMatchBadInput(t *testing.T) {
	p := DefaultParams
	for _, code := range []string{"", "12345", "1234567", "12345a", "-12345", "１２３４５６", "123456\x00", "12 34 5", "+123456"} {
		_, _, ok, err := p.Match(rfcSHA1, code, time.Unix(0, 0), 1)
		assert.ErrorIs(t, err, twofactor.ErrInvalidInput, "%q", code)
		assert.False(t, ok)
	}
	_, _, _, err := p.Match(rfcSHA1, "123456", time.Unix(0, 0), MaxSkew+1)
	assert.ErrorIs(t, err, twofactor.ErrInvalidInput)
}

func TestParseCode(t *testing.T) {
	v, err := ParseCode("012 345", 6)
	require.NoError(t, err)
	assert.Equal(t, uint32(12345), v)
	v, err = ParseCode("99999999", 8)
	require.NoError(t, err)
	assert.Equal(t, uint32(99999999), v)
	_, err = ParseCode("1234567", 6)
	assert.ErrorIs(t, err, twofactor.ErrInvalidInput)
	_, err = ParseCode("                 123456", 6)
	assert.ErrorIs(t, err, twofactor.ErrInvalidInput, "over-long input is refused")
}

func TestStepBeforeEpoch(t *testing.T) {
	assert.Equal(t, int64(-1), DefaultParams.Step(time.Unix(-1, 0)))
	assert.Equal(t, int64(-1), DefaultParams.Step(time.Unix(-30, 0)))
	assert.Equal(t, int64(-2), DefaultParams.Step(time.Unix(-31, 0)))
	assert.Equal(t, int64(0), DefaultParams.Step(time.Unix(29, 0)))
}

func TestMatchDoesNotAllocate(t *testing.T) {
	for _, alg := range []Algorithm{SHA1, SHA256, SHA512} {
		p := Params{Algorithm: alg, Digits: 6, Period: 30}
		at := time.Unix(1_700_000_000, 0)
		for _, key := range [][]byte{rfcSHA1, bytes.Repeat(rfcSHA512, 2)} { // the second is longer than any block
			code := p.Code(key, at)
			n := testing.AllocsPerRun(100, func() {
				if _, _, ok, _ := p.Match(key, code, at, 1); !ok {
					panic("no match")
				}
			})
			assert.Zero(t, n, "%s, %d-byte key", alg, len(key))
		}
	}
}

func TestParamsCheck(t *testing.T) {
	require.NoError(t, DefaultParams.Check())
	for _, p := range []Params{{}, {Algorithm: "MD5", Digits: 6, Period: 30}, {Algorithm: SHA1, Digits: 5, Period: 30},
		{Algorithm: SHA1, Digits: 9, Period: 30}, {Algorithm: SHA1, Digits: 6, Period: 0}, {Algorithm: SHA1, Digits: 6, Period: MaxPeriod + 1}} {
		assert.ErrorIs(t, p.Check(), twofactor.ErrInvalidInput, "%+v", p)
	}
}

func FuzzCode(f *testing.F) {
	for _, s := range []string{"123456", "012 345", "12345678", "", "12345a", "１２３４５６", "1234567", "        123456", "99999999"} {
		f.Add(s)
	}
	secret := rfcSHA1
	at := time.Unix(1_700_000_000, 0)
	f.Fuzz(func(t *testing.T, code string) {
		for d := MinDigits; d <= MaxDigits; d++ {
			v, err := ParseCode(code, d)
			if err != nil {
				require.ErrorIs(t, err, twofactor.ErrInvalidInput)
				continue
			}
			// Accepted input is exactly d ASCII digits once spaces are gone.
			clean := strings.ReplaceAll(code, " ", "")
			require.Len(t, clean, d)
			require.Equal(t, clean, fmt.Sprintf("%0*d", d, v))
			p := Params{Algorithm: SHA1, Digits: d, Period: 30}
			_, off, ok, err := p.Match(secret, code, at, 1)
			require.NoError(t, err)
			if ok {
				require.Equal(t, clean, p.StepCode(secret, p.Step(at)+int64(off)))
			}
		}
	})
}
