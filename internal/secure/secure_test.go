package secure

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// cycle returns every byte value in turn, forever: a perfectly uniform
// source, so any bias in the mapping shows as unequal counts.
type cycle struct{ next byte }

func (c *cycle) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = c.next
		c.next++
	}
	return len(p), nil
}

func TestDigitsUnbiased(t *testing.T) {
	// 250 usable byte values per 256 read: each digit must appear exactly
	// 25 times per cycle. A plain b%10 would give digits 0-5 26 times.
	s, err := Digits(&cycle{}, 2500)
	require.NoError(t, err)
	var counts [10]int
	for _, c := range s {
		counts[c-'0']++
	}
	for d, n := range counts {
		assert.Equal(t, 250, n, "digit %d", d)
	}
}

func TestStringUnbiasedAndRejects(t *testing.T) {
	alpha := "abcdefghjkmnpqrstuvwxyz23456789" // 31 characters: 256%31 = 8 rejected values
	s, err := String(&cycle{}, alpha, 31*8*4)
	require.NoError(t, err)
	for _, c := range alpha {
		assert.Equal(t, 32, strings.Count(s, string(c)), "%c", c)
	}
	// Bytes at or above the limit are never used.
	high := bytes.Repeat([]byte{255}, 64)
	_, err = String(bytes.NewReader(high), "0123456789", 1)
	require.Error(t, err, "a source of only rejected bytes runs dry")
}

func TestStringErrors(t *testing.T) {
	_, err := String(nil, "a", 5)
	require.ErrorIs(t, err, ErrAlphabet)
	_, err = String(nil, "aa", 5)
	require.ErrorIs(t, err, ErrAlphabet)
	_, err = String(nil, "ab", -1)
	require.Error(t, err)
	_, err = Digits(iotaErr{}, 6)
	require.Error(t, err, "a failing random source is an error, never a weak code")
}

type iotaErr struct{}

func (iotaErr) Read([]byte) (int, error) { return 0, errors.New("entropy exhausted") }

func TestTokenAndEqual(t *testing.T) {
	a, err := Token(nil, 32)
	require.NoError(t, err)
	b, err := Token(nil, 32)
	require.NoError(t, err)
	assert.Len(t, a, 43)
	assert.NotEqual(t, a, b)
	assert.True(t, Equal(a, a))
	assert.False(t, Equal(a, b))
	assert.False(t, Equal("123456", "12345"))
	assert.True(t, EqualBytes([]byte{1}, []byte{1}))
	d, err := Digits(nil, 6)
	require.NoError(t, err)
	assert.Regexp(t, `^[0-9]{6}$`, d)
}

func BenchmarkDigits6(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Digits(nil, 6); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkToken32(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Token(nil, 32); err != nil {
			b.Fatal(err)
		}
	}
}
