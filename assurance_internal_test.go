package twofactor

import (
	"context"
	"encoding/binary"
	"testing"
)

// encodeV2 writes ch as version 2 records were written, before they held
// the first factor.
func encodeV2(t *testing.T, s *Service, ch *Challenge) []byte {
	t.Helper()
	buf := []byte(challengeMagicV2)
	buf = appendString(buf, ch.ID)
	buf = appendString(buf, ch.User.ID)
	buf = appendString(buf, string(ch.Purpose))
	buf = binary.AppendUvarint(buf, uint64(len(ch.Methods)))
	for _, m := range ch.Methods {
		buf = appendString(buf, string(m))
	}
	buf = binary.AppendVarint(buf, ch.CreatedAt.UnixNano())
	buf = binary.AppendVarint(buf, ch.ExpiresAt.UnixNano())
	buf = append(buf, 0)
	head := len(buf)
	for _, f := range [...]string{ch.User.Name, ch.User.DisplayName, ch.User.Email, ch.IP} {
		buf = appendString(buf, f)
	}
	sealed, err := s.keys.Seal(buf[head:], buf[:head])
	if err != nil {
		t.Fatal(err)
	}
	return append(buf[:head], sealed...)
}

// A challenge stored before records held the first factor is still read
// (its first step was a password, as Begin then assumed) and can be
// completed; a version 3 record keeps the first factor, and one whose
// first factor is not one of the constants is refused.
func TestChallengeV2StillRead(t *testing.T) {
	s, mem := newInternalService(t, nil)
	ctx := context.Background()
	b, err := s.Begin(ctx, User{ID: "alice", Email: "a@example.com"}, Client{FirstFactor: FirstSocial})
	if err != nil {
		t.Fatal(err)
	}
	ch := b.Challenge
	got, err := s.Challenge(ctx, ch.ID)
	if err != nil || got.FirstFactor != FirstSocial {
		t.Fatalf("Challenge = %+v, %v", got, err)
	}
	if err := mem.PutOwnedState(ctx, "alice", keyChallenge+ch.ID, encodeV2(t, s, ch), ch.ExpiresAt); err != nil {
		t.Fatal(err)
	}
	got, err = s.Challenge(ctx, ch.ID)
	if err != nil || got.FirstFactor != FirstPassword || got.User.Email != "a@example.com" || got.Methods[0] != "one" {
		t.Fatalf("Challenge = %+v, %v", got, err)
	}
	res, err := s.Verify(ctx, Answer{ChallengeID: ch.ID, Method: "one", Code: "123456"})
	if err != nil || res.FirstFactor != FirstPassword {
		t.Fatalf("Verify = %+v, %v", res, err)
	}

	ch.FirstFactor = "carrier-pigeon"
	if err := s.save(ctx, ch, false); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Challenge(ctx, ch.ID); err == nil {
		t.Errorf("a record with an unknown first factor was read: %+v", got)
	}
}

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
