package trust

import (
	"strings"
	"testing"
)

// validKeyID mirrors the keyring's rule for key ids. parseToken's length
// bounds keep an empty or over-long key id from reaching it, so those
// edges are checked here, where a change to either rule shows.
func TestValidKeyID(t *testing.T) {
	for id, want := range map[string]bool{
		"k1": true, "2026-05.a_b": true, strings.Repeat("k", maxKeyIDLen): true,
		"": false, strings.Repeat("k", maxKeyIDLen+1): false,
		"k+1": false, "k/1": false, "k 1": false, "k:1": false, "kï": false, "k\x00": false,
	} {
		if got := validKeyID(id); got != want {
			t.Errorf("validKeyID(%q) = %v, want %v", id, got, want)
		}
	}
}
