package twofactor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/keyring"
	"github.com/twofactorkit/twofactor/store"
)

// oneFactor is enrolled for everyone and accepts "123456".
type oneFactor struct{}

func (oneFactor) Method() Method { return "one" }
func (oneFactor) Enrollments(context.Context, User) ([]Enrollment, error) {
	return []Enrollment{{ID: "one-1", Method: "one"}}, nil
}
func (oneFactor) Verify(_ context.Context, _ *Challenge, a string) (Verified, error) {
	if a == "123456" {
		return Verified{EnrollmentID: "one-1"}, nil
	}
	return Verified{}, ErrInvalidCode
}

func newInternalService(t testing.TB, mod func(*Config)) (*Service, *store.Memory) {
	t.Helper()
	k, err := keyring.GenerateKey("k1")
	if err != nil {
		t.Fatal(err)
	}
	keys, err := keyring.New(k)
	if err != nil {
		t.Fatal(err)
	}
	mem := store.NewMemory()
	cfg := Config{Store: mem, Keys: keys, Events: &event.Sink{Discard: true},
		Factors: []FactorConfig{FactorFunc(func(Env) (Factor, error) { return oneFactor{}, nil })}}
	if mod != nil {
		mod(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s, mem
}

// A stored challenge whose sealed part opens (it was sealed with the
// server's keys and the record's fields) but does not decode is an error,
// never a challenge; in the record's current form and in the JSON of
// earlier versions.
func TestSealedChallengeThatDoesNotDecode(t *testing.T) {
	s, mem := newInternalService(t, nil)
	ctx := context.Background()
	b, err := s.Begin(ctx, User{ID: "alice"}, Client{})
	if err != nil {
		t.Fatal(err)
	}
	ch := b.Challenge
	blob, err := mem.GetState(ctx, keyChallenge+ch.ID)
	if err != nil {
		t.Fatal(err)
	}
	f := fields{s: strings.TrimPrefix(string(blob), challengeMagic)}
	f.str()
	f.str()
	f.str()
	for range f.uvarint() {
		f.str()
	}
	f.varint()
	f.varint()
	f.byte()
	head := blob[:len(blob)-len(f.s)]
	v2, err := s.keys.Seal([]byte("not fields"), head)
	if err != nil {
		t.Fatal(err)
	}
	sc := challengeV1{ID: ch.ID, UserID: ch.User.ID, Purpose: ch.Purpose, Methods: ch.Methods, CreatedAt: ch.CreatedAt, ExpiresAt: ch.ExpiresAt}
	if sc.Sealed, err = s.keys.Seal([]byte("not json"), challengeV1AD(&sc)); err != nil {
		t.Fatal(err)
	}
	v1, err := json.Marshal(sc)
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range [][]byte{append(head[:len(head):len(head)], v2...), v1} {
		if err := mem.PutOwnedState(ctx, "alice", keyChallenge+ch.ID, bad, ch.ExpiresAt); err != nil {
			t.Fatal(err)
		}
		if got, err := s.Challenge(ctx, ch.ID); err == nil || got != nil || errors.Is(err, ErrChallengeNotFound) {
			t.Errorf("Challenge = %v, %v; want a decoding error", got, err)
		}
		res, err := s.Verify(ctx, Answer{ChallengeID: ch.ID, Method: "one", Code: "123456"})
		if err == nil || res != nil || errors.Is(err, ErrInvalidCode) {
			t.Errorf("Verify = %v, %v; want a decoding error and no Result", res, err)
		}
		if err := s.Cancel(ctx, ch.ID); err == nil {
			t.Error("Cancel of an undecodable challenge succeeded")
		}
	}
}

// A challenge kept in the JSON of earlier versions is still read, and
// still refused when altered.
func TestChallengeV1StillRead(t *testing.T) {
	s, mem := newInternalService(t, nil)
	ctx := context.Background()
	b, err := s.Begin(ctx, User{ID: "alice", Email: "a@example.com"}, Client{})
	if err != nil {
		t.Fatal(err)
	}
	ch := b.Challenge
	sc := challengeV1{ID: ch.ID, UserID: "alice", Purpose: ch.Purpose, Methods: ch.Methods, CreatedAt: ch.CreatedAt, ExpiresAt: ch.ExpiresAt}
	priv, _ := json.Marshal(challengeV1Private{Email: "a@example.com", IP: "203.0.113.7"})
	if sc.Sealed, err = s.keys.Seal(priv, challengeV1AD(&sc)); err != nil {
		t.Fatal(err)
	}
	put := func(sc challengeV1) {
		t.Helper()
		blob, err := json.Marshal(sc)
		if err != nil {
			t.Fatal(err)
		}
		if err := mem.PutOwnedState(ctx, "alice", keyChallenge+ch.ID, blob, ch.ExpiresAt); err != nil {
			t.Fatal(err)
		}
	}
	put(sc)
	got, err := s.Challenge(ctx, ch.ID)
	if err != nil || got.User.Email != "a@example.com" || got.IP != "203.0.113.7" || got.Methods[0] != "one" {
		t.Fatalf("Challenge = %+v, %v", got, err)
	}
	altered := sc
	altered.Methods = []Method{"one", "two"}
	put(altered)
	if got, err := s.Challenge(ctx, ch.ID); err == nil || got != nil {
		t.Errorf("an altered record was read: %+v", got)
	}
	put(sc)
	if res, err := s.Verify(ctx, Answer{ChallengeID: ch.ID, Method: "one", Code: "123456"}); err != nil || res == nil {
		t.Errorf("Verify = %v, %v", res, err)
	}
}

// failingRand fails every read: the source of ids and codes is broken.
type failingRand struct{}

var errNoEntropy = errors.New("no entropy")

func (failingRand) Read([]byte) (int, error) { return 0, errNoEntropy }

// Without randomness no challenge is made: Begin fails, it never makes a
// predictable id.
func TestBeginWithoutRandomness(t *testing.T) {
	s, _ := newInternalService(t, func(c *Config) { c.Rand = failingRand{} })
	b, err := s.Begin(context.Background(), User{ID: "alice"}, Client{})
	if !errors.Is(err, errNoEntropy) || b != nil {
		t.Errorf("Begin = %v, %v; want the randomness error", b, err)
	}
}

// Changing any byte of a stored challenge's clear part (its user, purpose,
// methods, times, spent flag) makes the record refused: the sealed part
// is bound to all of it.
func TestAlteredChallengeRefused(t *testing.T) {
	s, mem := newInternalService(t, nil)
	ctx := context.Background()
	b, err := s.Begin(ctx, User{ID: "alice", Email: "a@example.com"}, Client{})
	if err != nil {
		t.Fatal(err)
	}
	blob, err := mem.GetState(ctx, keyChallenge+b.Challenge.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.decodeChallenge(blob); err != nil {
		t.Fatal(err)
	}
	sealed := strings.LastIndex(string(blob), "v1:") // the keyring's sealed form starts the sealed part
	if sealed < 0 {
		t.Fatalf("no sealed part in %q", blob)
	}
	for i := range sealed {
		altered := bytes.Clone(blob)
		altered[i] ^= 1
		if ch, _, err := s.decodeChallenge(altered); err == nil {
			t.Errorf("byte %d altered: decoded %+v", i, ch)
		}
	}
}

// FuzzDecodeChallenge: whatever a store hands back, decoding returns a
// challenge or an error, and never panics; a challenge comes only from a
// record sealed with the keys.
func FuzzDecodeChallenge(f *testing.F) {
	s, mem := newInternalService(f, nil)
	ctx := context.Background()
	b, err := s.Begin(ctx, User{ID: "alice", Email: "a@example.com"}, Client{})
	if err != nil {
		f.Fatal(err)
	}
	blob, err := mem.GetState(ctx, keyChallenge+b.Challenge.ID)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(blob)
	f.Add(blob[:len(blob)/2])
	f.Add([]byte(challengeMagic + "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"))
	f.Add([]byte(`{"id":"x","uid":"u","sealed":"v1:k1:AAAA"}`))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		ch, _, err := s.decodeChallenge(data)
		if err == nil && !bytes.Equal(data, blob) {
			t.Errorf("decoded a record not sealed here: %+v", ch)
		}
	})
}
