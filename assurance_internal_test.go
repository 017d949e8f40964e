package twofactor

import (
	"testing"
)

// An amr value is kept only when it is a token of 1 to 32 letters, digits,
// "_" and "-", as every registered one is; the edges of each range are
// in, the characters beside them out, and repeats go.
func TestAMRTokens(t *testing.T) {
	long := "abcdefghijklmnopqrstuvwxyz012345" // 32
	for _, s := range []string{"a", "z", "A", "Z", "0", "9", "_", "-", "hwk", long} {
		if !amrToken(s) {
			t.Errorf("amrToken(%q) = false, want true", s)
		}
	}
	for _, s := range []string{"", long + "6", "`", "{", "@", "[", "/", ":", "a b", "a,b", "é"} {
		if amrToken(s) {
			t.Errorf("amrToken(%q) = true, want false", s)
		}
	}
	got := dedupe([]string{"pwd", "otp", "pwd", "a,b", "mfa", "otp"})
	if want := []string{"pwd", "otp", "mfa"}; len(got) != len(want) || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Errorf("dedupe = %q, want %q", got, want)
	}
}

// A factor's stated level is clamped: AAL3 only with phishing
// resistance, else at most AAL2, and never below AAL1.
func TestAssuranceLevelClamped(t *testing.T) {
	for _, tt := range []struct {
		as   Assurance
		want int
	}{
		{Assurance{AAL: 3, PhishingResistant: true}, 3},
		{Assurance{AAL: 4, PhishingResistant: true}, 3},
		{Assurance{AAL: 3}, 2},
		{Assurance{AAL: 2}, 2},
		{Assurance{AAL: 2, PhishingResistant: true}, 2},
		{Assurance{AAL: 1}, 1},
		{Assurance{AAL: 0}, 1},
		{Assurance{AAL: -1}, 1},
	} {
		if got := assurance(assuredFactor{as: tt.as}).AAL; got != tt.want {
			t.Errorf("assurance(%+v).AAL = %d, want %d", tt.as, got, tt.want)
		}
	}
	if got := assurance(plainFactor{}); got.AAL != 1 || got.PhishingResistant || len(got.AMR) != 0 {
		t.Errorf("a factor that states nothing: %+v", got)
	}
}

type plainFactor struct{ Factor }

type assuredFactor struct {
	Factor
	as Assurance
}

func (f assuredFactor) Assurance() Assurance { return f.as }
