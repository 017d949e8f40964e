package backupcodes

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/store"
)

var defaultLayout = layout{groups: DefaultGroups, size: DefaultGroupSize}

func TestAlphabet(t *testing.T) {
	require.Len(t, Alphabet, 1<<bitsPerChar)
	for _, c := range "ilou" {
		assert.NotContains(t, Alphabet, string(c), "look-alike %q is left out", c)
	}
	for i := 0; i < 256; i++ {
		if m := charMap[i]; m != 0 {
			assert.Contains(t, Alphabet, string(rune(m)), "byte %q maps into the alphabet", rune(i))
		}
	}
}

func TestNormalize(t *testing.T) {
	tests := []struct {
		in   string
		want string
		kind kind
	}{
		{"k7qm-3xvt-9fhd", "k7qm3xvt9fhd", kindBackup},
		{"K7QM 3XVT 9FHD", "k7qm3xvt9fhd", kindBackup},
		{"ooOO-iIlL-uUvV", "00001111vvvv", kindBackup},
		{"k7qm_3xvt_9fhd", "k7qm3xvt9fhd", kindBackup},
		{"\tk7qm\u20103xvt\u20119fhd\u3000", "k7qm3xvt9fhd", kindBackup},
		{"k7qm-3xvt-9fhd-2abc", "k7qm3xvt9fhd2abc", kindRecovery},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, k, err := defaultLayout.normalize(tt.in)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.kind, k)
		})
	}
}

func TestFormat(t *testing.T) {
	assert.Equal(t, "k7qm-3xvt-9fhd", defaultLayout.format("k7qm3xvt9fhd"))
	assert.Equal(t, "k7qm-3xvt-9fhd-2abc", defaultLayout.format("k7qm3xvt9fhd2abc"))
	assert.Equal(t, "k7qm3-xvt9f", layout{groups: 2, size: 5}.format("k7qm3xvt9f"))
}

// FuzzNormalize checks that normalizing any input never panics, yields only
// canonical codes, and ignores case, separators and how a code is grouped.
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{
		"k7qm-3xvt-9fhd", "K7QM 3XVT 9FHD", "ooOO-iIlL-uUvV", "k7qm-3xvt-9fhd-2abc",
		"", "-", "k7qm-3xvt-9fh", "k7qm\u20133xvt\u20149fhd", "０v1k-7qm3-xt9f", "\xff\xfe",
		strings.Repeat("a", 300),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		code, k, err := defaultLayout.normalize(in)
		if err != nil {
			if !errors.Is(err, twofactor.ErrInvalidInput) {
				t.Fatalf("normalize(%q): error %v does not wrap ErrInvalidInput", in, err)
			}
			if code != "" || k != 0 {
				t.Fatalf("normalize(%q) failed but returned %q, %q", in, code, k)
			}
			return
		}
		if len(code) != defaultLayout.length(k) || (k != kindBackup && k != kindRecovery) {
			t.Fatalf("normalize(%q) = %q, kind %q: wrong length for the kind", in, code, k)
		}
		for i := 0; i < len(code); i++ {
			if strings.IndexByte(Alphabet, code[i]) < 0 {
				t.Fatalf("normalize(%q) = %q: %q is outside the alphabet", in, code, code[i])
			}
		}
		for _, variant := range []string{
			code,
			defaultLayout.format(code),
			strings.ToUpper(defaultLayout.format(code)),
			strings.ToUpper(in),
			" " + strings.ReplaceAll(in, "-", " - ") + "\n",
		} {
			if len(variant) > maxInput {
				continue // longer than any answer is allowed to be
			}
			again, k2, err := defaultLayout.normalize(variant)
			if err != nil || again != code || k2 != k {
				t.Fatalf("normalize(%q) = %q, but normalize(%q) = %q, %v", in, code, variant, again, err)
			}
		}
	})
}

// TestSubmittedKey: the mark of a submitted code carries its group's tag
// (so a sharded store keeps it beside the codes), depends on the code's
// HMAC alone, and fits every store with the longest user id and the
// longest key id.
func TestSubmittedKey(t *testing.T) {
	long := strings.Repeat("é", twofactor.MaxUserIDLen/2)
	hash := func(keyID string, b byte) []byte {
		h := append([]byte(keyID), 0)
		return append(h, bytes.Repeat([]byte{b}, sha256.Size)...)
	}
	for _, k := range []kind{kindBackup, kindRecovery} {
		g := group(k, long)
		key := submittedKey(g, hash(strings.Repeat("k", 32), 0xab))
		assert.LessOrEqual(t, len(key), store.MaxKeyLen, "kind %d", k)
		assert.True(t, strings.HasPrefix(key, keySubmitted+store.GroupTag(g)), key)
		assert.True(t, strings.HasSuffix(key, strings.Repeat("ab", sha256.Size)), key)
	}
	g := group(kindBackup, "u")
	assert.Equal(t, submittedKey(g, hash("old", 1)), submittedKey(g, hash("new", 1)), "the key id is left out")
	assert.NotEqual(t, submittedKey(g, hash("k", 1)), submittedKey(g, hash("k", 2)))
	assert.NotEqual(t, submittedKey(g, hash("k", 1)), submittedKey(group(kindRecovery, "u"), hash("k", 1)))
}
