package twofactor

import (
	"context"
	"encoding/json"
	"errors"
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

func newInternalService(t *testing.T, mod func(*Config)) (*Service, *store.Memory) {
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
// never a challenge.
func TestSealedChallengeThatDoesNotDecode(t *testing.T) {
	s, mem := newInternalService(t, nil)
	ctx := context.Background()
	b, err := s.Begin(ctx, User{ID: "alice"}, Client{})
	if err != nil {
		t.Fatal(err)
	}
	ch := b.Challenge
	sc := storedChallenge{ID: ch.ID, UserID: ch.User.ID, Purpose: ch.Purpose, Methods: ch.Methods, CreatedAt: ch.CreatedAt, ExpiresAt: ch.ExpiresAt}
	if sc.Sealed, err = s.keys.Seal([]byte("not json"), challengeAD(&sc)); err != nil {
		t.Fatal(err)
	}
	blob, err := json.Marshal(sc)
	if err != nil {
		t.Fatal(err)
	}
	if err := mem.PutOwnedState(ctx, "alice", keyChallenge+ch.ID, blob, ch.ExpiresAt); err != nil {
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
