package twofactor

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

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

// sealAs seals plaintext as the sealed part of a challenge id with key.
func sealAs(t testing.TB, s *Service, key string, plaintext []byte) string {
	t.Helper()
	sealed, err := s.keys.Seal(plaintext, []byte(challengeAD+key))
	if err != nil {
		t.Fatal(err)
	}
	return key + "." + sealed
}

// An id whose sealed part opens (it was sealed with the server's keys and
// its key) but does not decode is an error, never a challenge.
func TestSealedChallengeThatDoesNotDecode(t *testing.T) {
	s, _ := newInternalService(t, nil)
	ctx := context.Background()
	b, err := s.Begin(ctx, User{ID: "alice"}, Client{})
	if err != nil {
		t.Fatal(err)
	}
	id := sealAs(t, s, b.Challenge.Key(), []byte("not fields"))
	if got, err := s.Challenge(ctx, id); err == nil || got != nil || errors.Is(err, ErrChallengeNotFound) {
		t.Errorf("Challenge = %v, %v; want a decoding error", got, err)
	}
	res, err := s.Verify(ctx, Answer{ChallengeID: id, Method: "one", Code: "123456"})
	if err == nil || res != nil || errors.Is(err, ErrInvalidCode) {
		t.Errorf("Verify = %v, %v; want a decoding error and no Result", res, err)
	}
	if err := s.Cancel(ctx, id); err == nil {
		t.Error("Cancel of an undecodable challenge succeeded")
	}
}

// A record's bits of methods without an enrollment record are present
// only when not zero, and name offered methods only.
func TestChallengeNoRecordBitsChecked(t *testing.T) {
	s, _ := newInternalService(t, nil)
	now := time.Now()
	ch := &Challenge{User: User{ID: "ada"}, Purpose: PurposeLogin, Methods: []Method{"totp", "email"},
		CreatedAt: now, ExpiresAt: now.Add(time.Minute), FirstFactor: FirstPassword, noRecord: 4}
	if err := s.seal(ch); err != nil {
		t.Fatal(err)
	}
	if _, err := s.open(ch.ID); !errors.Is(err, errMalformedChallenge) {
		t.Errorf("a bit beyond the methods: %v", err)
	}
	ch.noRecord = 0
	if err := s.seal(ch); err != nil {
		t.Fatal(err)
	}
	key := ch.Key()
	pt, err := s.keys.Open(ch.ID[len(key)+1:], []byte(challengeAD+key))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.open(sealAs(t, s, key, append(pt, 0))); !errors.Is(err, errMalformedChallenge) {
		t.Errorf("zero spelled out: %v", err)
	}
	if _, err := s.open(sealAs(t, s, key, append(pt, 2, 0))); !errors.Is(err, errMalformedChallenge) {
		t.Errorf("trailing bytes: %v", err)
	}
	got, err := s.open(sealAs(t, s, key, append(pt, 2)))
	if err != nil || got.recorded("email") || !got.recorded("totp") {
		t.Errorf("email without a record: %v, %v", got, err)
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

// Changing any character of a challenge id, its key or its sealed part,
// makes it refused: the sealed part is bound to the key, and a sealed part
// moved under another key does not open either.
func TestAlteredChallengeRefused(t *testing.T) {
	s, _ := newInternalService(t, nil)
	ctx := context.Background()
	b, err := s.Begin(ctx, User{ID: "alice", Email: "a@example.com"}, Client{})
	if err != nil {
		t.Fatal(err)
	}
	id := b.Challenge.ID
	if _, err := s.open(id); err != nil {
		t.Fatal(err)
	}
	for i := range len(id) {
		if i == challengeKeyLen {
			continue
		}
		altered := []byte(id)
		altered[i] ^= 1
		if ch, err := s.open(string(altered)); !errors.Is(err, ErrChallengeNotFound) {
			t.Errorf("character %d altered: %+v, %v", i, ch, err)
		}
	}
	other, err := s.Begin(ctx, User{ID: "alice"}, Client{})
	if err != nil {
		t.Fatal(err)
	}
	moved := other.Challenge.Key() + id[challengeKeyLen:]
	if ch, err := s.open(moved); !errors.Is(err, ErrChallengeNotFound) {
		t.Errorf("a sealed part under another key: %+v, %v", ch, err)
	}
}

// FuzzOpenChallenge: whatever id a client sends, opening it returns a
// challenge or an error, and never panics; a challenge comes only from an
// id sealed with the keys.
func FuzzOpenChallenge(f *testing.F) {
	s, _ := newInternalService(f, nil)
	b, err := s.Begin(context.Background(), User{ID: "alice", Email: "a@example.com"}, Client{})
	if err != nil {
		f.Fatal(err)
	}
	id := b.Challenge.ID
	f.Add(id)
	f.Add(id[:len(id)/2])
	f.Add(id[:challengeKeyLen])
	f.Add(id[:challengeKeyLen+1] + "v1:k1:AAAA")
	f.Add("")
	f.Fuzz(func(t *testing.T, data string) {
		ch, err := s.open(data)
		if err == nil && data != id {
			t.Errorf("opened an id not sealed here: %+v", ch)
		}
	})
}

// A challenge may list as many methods as maxMethods, and not one more;
// one whose first factor is not one of the constants is refused.
func TestChallengeMethodsBound(t *testing.T) {
	s, _ := newInternalService(t, nil)
	now := time.Now()
	for _, n := range []int{maxMethods, maxMethods + 1} {
		ch := &Challenge{User: User{ID: "alice"}, Purpose: PurposeLogin, CreatedAt: now, ExpiresAt: now.Add(time.Minute)}
		for i := range n {
			ch.Methods = append(ch.Methods, Method(fmt.Sprint("m", i)))
		}
		if err := s.seal(ch); err != nil {
			t.Fatal(err)
		}
		got, err := s.open(ch.ID)
		if n == maxMethods && (err != nil || len(got.Methods) != n) {
			t.Errorf("%d methods: %v, %v", n, got, err)
		}
		if n > maxMethods && err == nil {
			t.Errorf("%d methods decoded", n)
		}
	}
	ch := &Challenge{User: User{ID: "alice"}, Purpose: PurposeLogin, CreatedAt: now, ExpiresAt: now.Add(time.Minute), FirstFactor: "carrier-pigeon"}
	if err := s.seal(ch); err != nil {
		t.Fatal(err)
	}
	if got, err := s.open(ch.ID); err == nil {
		t.Errorf("a challenge with an unknown first factor was read: %+v", got)
	}
}

// Every field of a challenge survives its id, and an id is read as the
// user's, purpose's and client's it was made for.
func TestChallengeRoundTrip(t *testing.T) {
	for _, noRecord := range []uint64{0, 2, 3} {
		t.Run(fmt.Sprint(noRecord), func(t *testing.T) { testChallengeRoundTrip(t, noRecord) })
	}
}

func testChallengeRoundTrip(t *testing.T, noRecord uint64) {
	s, _ := newInternalService(t, nil)
	now := time.Now().Truncate(0)
	ch := &Challenge{User: User{ID: "ada", Name: "ada", DisplayName: "Ada Lovelace", Email: "ada@example.com", Language: "de"},
		Purpose: PurposeStepUp, Methods: []Method{"totp", "email"}, CreatedAt: now, ExpiresAt: now.Add(15 * time.Minute),
		IP: "203.0.113.7", FirstFactor: FirstSocial, noRecord: noRecord}
	if err := s.seal(ch); err != nil {
		t.Fatal(err)
	}
	if ParseChallengeID(ch.ID) != nil || len(ch.Key()) != challengeKeyLen || !strings.HasPrefix(ch.ID, ch.Key()+".") {
		t.Fatalf("id %q", ch.ID)
	}
	got, err := s.open(ch.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !got.CreatedAt.Equal(ch.CreatedAt) || !got.ExpiresAt.Equal(ch.ExpiresAt) {
		t.Errorf("times %v, %v", got.CreatedAt, got.ExpiresAt)
	}
	got.CreatedAt, got.ExpiresAt, ch.CreatedAt, ch.ExpiresAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	if !reflect.DeepEqual(got, ch) {
		t.Errorf("open = %+v, want %+v", got, ch)
	}
}

// An id is its key, a '.' and a sealed part, at most maxChallengeIDLen
// characters: the longest passes the form, one more does not, and a key
// with a character outside base64url, or a key alone with its '.', does
// not. A key of an id of another form is the id itself.
func TestChallengeIDBounds(t *testing.T) {
	key := strings.Repeat("A", challengeKeyLen)
	longest := key + "." + strings.Repeat("B", maxChallengeIDLen-challengeKeyLen-1)
	if err := ParseChallengeID(longest); err != nil {
		t.Errorf("an id of %d characters: %v", len(longest), err)
	}
	for name, id := range map[string]string{
		"one character too long": longest + "B",
		"the key and its dot":    key + ".",
		"a key with a '!'":       "!" + key[1:] + ".v1:k1:AAAA",
		"a key with a '.'":       "." + key[1:] + ".v1:k1:AAAA",
		"a sealed part with '~'": key + ".v1:k1:AA~A",
	} {
		if err := ParseChallengeID(id); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("%s: %v", name, err)
		}
	}
	for _, id := range []string{key, "c", key + "."} {
		if got := (&Challenge{ID: id}).Key(); got != strings.TrimSuffix(id, ".") {
			t.Errorf("Key of %q = %q", id, got)
		}
	}
}
