package twofactor

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
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

// A challenge record exactly as the JSON-form version wrote it (made by
// that code with the test key below, for a user offered TOTP and email
// from 203.0.113.7) is still read, with every field: a challenge begun
// before an upgrade can be finished after it.
func TestChallengeV1Golden(t *testing.T) {
	const (
		key  = "golden:cBPdy4CFnaGQ70gXFNK0KdvgGICyeNhXfMH5WTPyeYo"
		id   = "T58bWhV8YnZszqznM1L4TgxPMLGd_xLKrZvZGejVwds"
		blob = "eyJpZCI6IlQ1OGJXaFY4WW5ac3pxem5NMUw0VGd4UE1MR2RfeExLclp2WkdlalZ3ZHMiLCJ1aWQiOiJhZGEiLCJwdXJwb3NlIjoibG9naW4iLCJtZXRob2RzIjpbInRvdHAiLCJlbWFpbCJdLCJjcmVhdGVkX2F0IjoiMjAyNi0xMi0wMVQxMjowMDowMFoiLCJleHBpcmVzX2F0IjoiMjAyNi0xMi0wMVQxMjoxNTowMFoiLCJzZWFsZWQiOiJ2MTpnb2xkZW46ZmM3REdYUWR4WE1fQUVyX1VCOFlIaWtGU2E3OHA5THhxZXR3WXQ2SXhLaFJ0WjdnM3J5SkVKTENSZG5EQVd4bjlvOUplYjQ1a3JDZWxoZkdwU05hbDQxMTlOQjRhdklsMm9UZnRoQUNDZm45bVBjdkVHOXBheC0tRVRwY3BYcHNVSXdBIn0="
	)
	k, err := keyring.ParseKey(key)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := keyring.New(k)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.StdEncoding.DecodeString(blob)
	if err != nil {
		t.Fatal(err)
	}
	made := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	now := func() time.Time { return made.Add(time.Minute) }
	mem := store.NewMemory(now)
	s, _ := newInternalService(t, func(c *Config) { c.Store, c.Keys, c.Now = mem, keys, now })
	if err := mem.PutOwnedState(context.Background(), "ada", keyChallenge+id, raw, made.Add(15*time.Minute)); err != nil {
		t.Fatal(err)
	}
	ch, err := s.Challenge(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	want := &Challenge{ID: id, User: User{ID: "ada", Name: "ada", DisplayName: "Ada Lovelace", Email: "ada@example.com"},
		Purpose: PurposeLogin, Methods: []Method{"totp", "email"}, IP: "203.0.113.7"}
	if !ch.CreatedAt.Equal(made) || !ch.ExpiresAt.Equal(made.Add(15*time.Minute)) {
		t.Errorf("times %v, %v", ch.CreatedAt, ch.ExpiresAt)
	}
	ch.CreatedAt, ch.ExpiresAt = time.Time{}, time.Time{}
	if !reflect.DeepEqual(ch, want) {
		t.Errorf("Challenge = %+v, want %+v", ch, want)
	}
}

// A record may list as many methods as maxMethods, and not one more.
func TestChallengeMethodsBound(t *testing.T) {
	s, mem := newInternalService(t, nil)
	ctx := context.Background()
	now := time.Now()
	for _, n := range []int{maxMethods, maxMethods + 1} {
		ch := &Challenge{ID: strings.Repeat("A", challengeIDLen), User: User{ID: "alice"}, Purpose: PurposeLogin,
			CreatedAt: now, ExpiresAt: now.Add(time.Minute)}
		for i := range n {
			ch.Methods = append(ch.Methods, Method(fmt.Sprint("m", i)))
		}
		if err := s.save(ctx, ch, false); err != nil {
			t.Fatal(err)
		}
		blob, err := mem.GetState(ctx, keyChallenge+ch.ID)
		if err != nil {
			t.Fatal(err)
		}
		got, _, err := s.decodeChallenge(blob)
		if n == maxMethods && (err != nil || len(got.Methods) != n) {
			t.Errorf("%d methods: %v, %v", n, got, err)
		}
		if n > maxMethods && err == nil {
			t.Errorf("%d methods decoded", n)
		}
	}
}
