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
