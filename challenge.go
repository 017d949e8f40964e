package twofactor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/twofactorkit/twofactor/store"
)

// Store keys of the Service. Every key is a short prefix and a fixed-length
// id or a user id of at most MaxUserIDLen bytes, so each fits
// store.MaxKeyLen.
const (
	keyChallenge    = "tf:ch:"   // state: a challenge, filed under its user
	keyAttempts     = "tf:att:"  // counter: answers to one challenge
	keyUserFail     = "tf:fail:" // counter: a user's wrong answers in a row
	keyIP           = "tf:ip:"   // counter: answers from one client network, keyed by its keyed hash
	keyProofsBefore = "tf:pnb:"  // state: proofs issued before this time are void
)

// challengeIDBytes is the entropy of a challenge id: 256 bits.
const challengeIDBytes = 32

// challengeIDLen is the length of a challenge id in unpadded base64url.
const challengeIDLen = 43

// ParseChallengeID checks that id has the form of a challenge id (43
// characters of unpadded base64url) without any store access. It returns an
// error matching ErrInvalidInput otherwise.
func ParseChallengeID(id string) error {
	if len(id) != challengeIDLen {
		return invalidInput("challenge id must be %d characters", challengeIDLen)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return invalidInput("challenge id has a character outside base64url")
		}
	}
	// The last character carries 2 bits of padding that must be zero, so
	// each id has exactly one spelling.
	if strings.IndexByte("AEIMQUYcgkosw048", id[challengeIDLen-1]) < 0 {
		return invalidInput("challenge id is not canonical base64url")
	}
	return nil
}

// storedChallenge is a challenge as kept in the store. Only what the flow
// needs is in the clear; the user's name and address and the client IP are
// sealed with the keyring, bound to the challenge and user ids, so a copy of
// the store without the keys holds no personal data beyond the user id.
type storedChallenge struct {
	ID        string    `json:"id"`
	UserID    string    `json:"uid"`
	Purpose   Purpose   `json:"purpose"`
	Methods   []Method  `json:"methods"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
	// Sealed holds challengePrivate.
	Sealed string `json:"sealed"`
	// Spent is set when the challenge used up its attempts: it can no
	// longer be answered or sent codes, but is kept until it expires so
	// that an answer already being checked can still complete it.
	Spent bool `json:"spent,omitempty"`
}

// challengePrivate is the sealed part of a stored challenge.
type challengePrivate struct {
	Name        string `json:"n,omitempty"`
	DisplayName string `json:"d,omitempty"`
	Email       string `json:"e,omitempty"`
	IP          string `json:"ip,omitempty"`
}

// challengeAD binds the sealed part to every field kept in the clear, so a
// record altered in the store does not open.
func challengeAD(sc *storedChallenge) []byte {
	ad := make([]byte, 0, 160)
	ad = append(ad, "twofactor challenge v1"...)
	for _, f := range []string{sc.ID, sc.UserID, string(sc.Purpose), joinMethods(sc.Methods),
		strconv.FormatInt(sc.CreatedAt.UnixNano(), 10), strconv.FormatInt(sc.ExpiresAt.UnixNano(), 10), strconv.FormatBool(sc.Spent)} {
		ad = append(ad, 0)
		ad = append(ad, f...)
	}
	return ad
}

// save stores ch, filed under its user so that PasswordChanged and
// AdminReset can end it.
func (s *Service) save(ctx context.Context, ch *Challenge, spent bool) error {
	priv, err := json.Marshal(challengePrivate{Name: ch.User.Name, DisplayName: ch.User.DisplayName, Email: ch.User.Email, IP: ch.IP})
	if err != nil {
		return err
	}
	sc := storedChallenge{
		ID: ch.ID, UserID: ch.User.ID, Purpose: ch.Purpose, Methods: ch.Methods,
		CreatedAt: ch.CreatedAt, ExpiresAt: ch.ExpiresAt, Spent: spent,
	}
	if sc.Sealed, err = s.keys.Seal(priv, challengeAD(&sc)); err != nil {
		return err
	}
	blob, err := json.Marshal(sc)
	if err != nil {
		return err
	}
	return s.store.PutOwnedState(ctx, ch.User.ID, keyChallenge+ch.ID, blob, ch.ExpiresAt)
}

// decodeChallenge parses and opens a stored challenge. A record that does
// not parse or open is an error, never a usable challenge.
func (s *Service) decodeChallenge(blob []byte) (*Challenge, bool, error) {
	var sc storedChallenge
	if err := json.Unmarshal(blob, &sc); err != nil {
		return nil, false, fmt.Errorf("twofactor: decoding challenge: %w", err)
	}
	pt, err := s.keys.Open(sc.Sealed, challengeAD(&sc))
	if err != nil {
		return nil, false, fmt.Errorf("twofactor: opening challenge: %w", err)
	}
	var priv challengePrivate
	if err := json.Unmarshal(pt, &priv); err != nil {
		return nil, false, fmt.Errorf("twofactor: decoding challenge: %w", err)
	}
	return &Challenge{
		ID:        sc.ID,
		User:      User{ID: sc.UserID, Name: priv.Name, DisplayName: priv.DisplayName, Email: priv.Email},
		Purpose:   sc.Purpose,
		Methods:   sc.Methods,
		CreatedAt: sc.CreatedAt,
		ExpiresAt: sc.ExpiresAt,
		IP:        priv.IP,
	}, sc.Spent, nil
}

// Challenge returns a pending challenge, for showing its methods again.
func (s *Service) Challenge(ctx context.Context, challengeID string) (*Challenge, error) {
	return s.load(ctx, challengeID)
}

// load reads a live challenge. A malformed id costs no store access; a
// spent one answers ErrTooManyAttempts.
func (s *Service) load(ctx context.Context, challengeID string) (*Challenge, error) {
	ch, spent, err := s.read(ctx, challengeID)
	if err == nil && spent {
		return nil, ErrTooManyAttempts
	}
	return ch, err
}

// read reads a challenge and whether it is spent.
func (s *Service) read(ctx context.Context, challengeID string) (*Challenge, bool, error) {
	if err := ParseChallengeID(challengeID); err != nil {
		return nil, false, ErrChallengeNotFound
	}
	blob, err := s.store.GetState(ctx, keyChallenge+challengeID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, false, ErrChallengeNotFound
	}
	if err != nil {
		return nil, false, fmt.Errorf("twofactor: loading challenge: %w", err)
	}
	ch, spent, err := s.decodeChallenge(blob)
	if err != nil {
		return nil, false, err
	}
	if ch.ID != challengeID || !s.now().Before(ch.ExpiresAt) {
		return nil, false, ErrChallengeNotFound
	}
	return ch, spent, nil
}
