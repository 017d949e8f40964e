package webauthn

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	gowebauthn "github.com/go-webauthn/webauthn/webauthn"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/store"
)

const (
	keyLogin     = "webauthn:login:" // state: login ceremony, keyed by challenge id
	keySignCount = "webauthn:sc:"    // ledger: highest signature counter of a credential
	// signCountTTL is how long a counter mark is kept; the record keeps the
	// counter too, so an expired mark only loses the atomicity.
	signCountTTL = 10 * 365 * 24 * time.Hour
)

func signCountKey(userID, enrollmentID string) string {
	return keySignCount + enrollmentID + ":" + userID
}

// loginState is a login ceremony, kept in store.States under the challenge
// id so that it lives and dies with the challenge.
type loginState struct {
	ChallengeID string                 `json:"challenge_id"`
	UserID      string                 `json:"user_id"`
	Session     gowebauthn.SessionData `json:"session"`
	ExpiresAt   time.Time              `json:"expires_at"`
}

// Start begins the login ceremony for a challenge: it returns the request
// options for navigator.credentials.get as JSON ({"publicKey": {...}}),
// allowing the user's registered credentials, and keeps the ceremony
// state, single use, until Config.Timeout or the challenge's end, whichever
// comes first. Starting again replaces the previous ceremony of the
// challenge. A user with no credential gets twofactor.ErrNotEnrolled.
func (f *Factor) Start(ctx context.Context, ch *twofactor.Challenge) (json.RawMessage, error) {
	if ch == nil || ch.ID == "" {
		return nil, invalidInput("no challenge")
	}
	if err := checkUser(ch.User); err != nil {
		return nil, err
	}
	now := f.now()
	if !now.Before(ch.ExpiresAt) {
		return nil, twofactor.ErrChallengeNotFound
	}
	creds, err := f.load(ctx, ch.User.ID)
	if err != nil {
		return nil, err
	}
	if len(creds) == 0 {
		return nil, twofactor.ErrNotEnrolled
	}
	u := newWAUser(ch.User, f.userHandle(ch.User, creds), creds)
	assertion, session, err := f.wa.BeginLogin(u)
	if err != nil {
		return nil, fmt.Errorf("webauthn: beginning login: %w", err)
	}
	expires := now.Add(f.timeout)
	if ch.ExpiresAt.Before(expires) {
		expires = ch.ExpiresAt
	}
	assertion.Response.Timeout = int(expires.Sub(now).Milliseconds())
	options, err := json.Marshal(assertion)
	if err != nil {
		return nil, err
	}
	st := loginState{ChallengeID: ch.ID, UserID: ch.User.ID, Session: *session, ExpiresAt: expires}
	blob, err := json.Marshal(st)
	if err != nil {
		return nil, err
	}
	if err := f.store.PutState(ctx, keyLogin+ch.ID, blob, expires); err != nil {
		return nil, fmt.Errorf("webauthn: storing login ceremony: %w", err)
	}
	return options, nil
}

// Cancel deletes the challenge's ceremony state, so a response to it no
// longer verifies. The Service calls it whenever a challenge ends.
func (f *Factor) Cancel(ctx context.Context, ch *twofactor.Challenge) error {
	if ch == nil || ch.ID == "" {
		return nil
	}
	if err := f.store.DeleteState(ctx, keyLogin+ch.ID); err != nil {
		return fmt.Errorf("webauthn: deleting login ceremony: %w", err)
	}
	return nil
}

// CheckAnswer checks, without any store access, that answer has the form
// of a login response: a JSON object of at most MaxAssertionSize bytes that
// parses as a WebAuthn assertion. It returns an error matching
// twofactor.ErrInvalidInput otherwise.
func (f *Factor) CheckAnswer(answer string) error {
	_, err := parseAssertion([]byte(answer))
	return err
}

func parseAssertion(b []byte) (*protocol.ParsedCredentialAssertionData, error) {
	if err := checkJSONObject(b, MaxAssertionSize); err != nil {
		return nil, err
	}
	p, err := protocol.ParseCredentialRequestResponseBytes(b)
	if err != nil {
		return nil, invalidInput("response is not an assertion credential")
	}
	return p, nil
}

// Verify checks the browser's assertion (the JSON of the
// PublicKeyCredential that navigator.credentials.get returned) for the
// challenge. The ceremony state is taken first, so each Start allows one
// Verify, right or wrong. On success the credential's signature counter and
// last use are updated.
//
// Errors: a malformed answer matches twofactor.ErrInvalidInput and touches
// no state. ErrCeremonyNotFound (replay, or no Start), ErrCeremonyExpired,
// ErrRejected (wrong challenge, origin, signature...),
// ErrUnknownCredential and ErrSignCountRegressed all match
// twofactor.ErrInvalidCode and change nothing but the used ceremony. Any
// other error is a system failure; none lets the user in.
func (f *Factor) Verify(ctx context.Context, ch *twofactor.Challenge, answer string) (twofactor.Verified, error) {
	if ch == nil || ch.ID == "" {
		return twofactor.Verified{}, invalidInput("no challenge")
	}
	parsed, err := parseAssertion([]byte(answer))
	if err != nil {
		return twofactor.Verified{}, err
	}
	blob, err := f.store.TakeState(ctx, keyLogin+ch.ID)
	if errors.Is(err, store.ErrNotFound) {
		return twofactor.Verified{}, ErrCeremonyNotFound
	}
	if err != nil {
		return twofactor.Verified{}, fmt.Errorf("webauthn: reading login ceremony: %w", err)
	}
	var st loginState
	if err := json.Unmarshal(blob, &st); err != nil {
		return twofactor.Verified{}, fmt.Errorf("webauthn: decoding login ceremony: %w", err)
	}
	if st.ChallengeID != ch.ID || st.UserID != ch.User.ID {
		return twofactor.Verified{}, ErrCeremonyNotFound
	}
	now := f.now()
	if !now.Before(st.ExpiresAt) {
		return twofactor.Verified{}, ErrCeremonyExpired
	}
	creds, err := f.load(ctx, ch.User.ID)
	if err != nil {
		return twofactor.Verified{}, err
	}
	idx := -1
	for i := range creds {
		if bytes.Equal(creds[i].data.CredentialID, parsed.RawID) {
			idx = i
			break
		}
	}
	if idx < 0 {
		return twofactor.Verified{}, ErrUnknownCredential
	}
	u := newWAUser(ch.User, st.Session.UserID, creds)
	cred, err := f.wa.ValidateLogin(u, st.Session, parsed)
	if err != nil {
		var unknown *protocol.ErrorUnknownCredential
		if errors.As(err, &unknown) {
			return twofactor.Verified{}, ErrUnknownCredential
		}
		return twofactor.Verified{}, rejected(err)
	}
	c := creds[idx]
	got, had := parsed.Response.AuthenticatorData.Counter, c.data.SignCount
	regressed := (got != 0 || had != 0) && got <= had
	if !regressed && got != 0 {
		// The record's counter is read, then written: the ledger's
		// high-water mark makes the check atomic, so of concurrent
		// assertions with one counter value (a cloned key) one passes.
		advanced, err := f.store.Advance(ctx, signCountKey(ch.User.ID, c.rec.ID), int64(got), now.Add(signCountTTL))
		if err != nil {
			return twofactor.Verified{}, fmt.Errorf("webauthn: recording signature counter: %w", err)
		}
		regressed = !advanced
	}
	if regressed {
		f.emit(ctx, twofactor.Event{Type: twofactor.EventWarning, UserID: ch.User.ID, ChallengeID: ch.ID,
			Purpose: ch.Purpose, Reason: "sign_count_regressed",
			Details: map[string]string{
				"enrollment": c.rec.ID, "stored": strconv.FormatUint(uint64(had), 10),
				"received": strconv.FormatUint(uint64(got), 10), "policy": f.signPolicyName(),
			}})
		if f.signPol == SignCountReject {
			return twofactor.Verified{}, ErrSignCountRegressed
		}
	}
	if got > c.data.SignCount {
		c.data.SignCount = got
	}
	c.data.Flags = uint8(cred.Flags.ProtocolValue())
	raw, err := json.Marshal(c.data)
	if err != nil {
		return twofactor.Verified{}, err
	}
	c.rec.Data = raw
	c.rec.LastUsedAt = now
	if err := f.store.PutEnrollment(ctx, c.rec); err != nil {
		return twofactor.Verified{}, fmt.Errorf("webauthn: updating credential: %w", err)
	}
	return twofactor.Verified{EnrollmentID: c.rec.ID, Details: map[string]string{"enrollment": c.rec.ID}}, nil
}

func (f *Factor) signPolicyName() string {
	if f.signPol == SignCountWarn {
		return "warn"
	}
	return "reject"
}
