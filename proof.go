package twofactor

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/twofactorkit/twofactor/store"
)

const proofDomain = "twofactor proof v2"

// signProof returns "base64url(payload).keyID.base64url(mac)". The payload
// names the user, the purpose of the challenge that was answered, the
// method, and the time in milliseconds.
func (s *Service) signProof(userID string, p Purpose, m Method, at time.Time) string {
	var buf [256]byte
	payload := append(buf[:0], userID...)
	payload = append(append(payload, 0), p...)
	payload = append(append(payload, 0), m...)
	payload = strconv.AppendInt(append(payload, 0), at.UnixMilli(), 10)
	kid, sig := s.keys.Sign(proofDomain, payload)
	enc := base64.RawURLEncoding
	out := make([]byte, 0, enc.EncodedLen(len(payload))+len(kid)+enc.EncodedLen(len(sig))+2)
	out = enc.AppendEncode(out, payload)
	out = append(append(append(out, '.'), kid...), '.')
	out = enc.AppendEncode(out, sig)
	return string(out)
}

// A Proof is a parsed, verified proof of a second factor.
type Proof struct {
	UserID     string
	Purpose    Purpose // what the answered challenge was for
	Method     Method
	VerifiedAt time.Time
}

// maxProof bounds proof tokens before any decoding.
const maxProof = 1024

// ParseProof verifies the signature of a proof issued in a Result and
// returns what it states. It checks neither freshness nor revocation;
// CheckProof does. Any malformed or forged proof gives an error matching
// ErrStepUpRequired.
func (s *Service) ParseProof(proof string) (Proof, error) {
	bad := fmt.Errorf("%w: proof is malformed or not signed by this server", ErrStepUpRequired)
	if len(proof) > maxProof {
		return Proof{}, bad
	}
	enc, rest, ok := strings.Cut(proof, ".")
	if !ok {
		return Proof{}, bad
	}
	kid, encSig, ok := strings.Cut(rest, ".")
	if !ok {
		return Proof{}, bad
	}
	payload, err1 := base64.RawURLEncoding.Strict().DecodeString(enc)
	sig, err2 := base64.RawURLEncoding.Strict().DecodeString(encSig)
	if err1 != nil || err2 != nil || !s.keys.Verify(proofDomain, kid, payload, sig) {
		return Proof{}, bad
	}
	parts := strings.Split(string(payload), "\x00")
	if len(parts) != 4 {
		return Proof{}, bad
	}
	ms, err := strconv.ParseInt(parts[3], 10, 64)
	if err != nil {
		return Proof{}, bad
	}
	return Proof{UserID: parts[0], Purpose: Purpose(parts[1]), Method: Method(parts[2]), VerifiedAt: time.UnixMilli(ms)}, nil
}

// CheckProof returns nil when proof was issued by this service for userID
// by a challenge of the given purpose, no longer than Config.StepUpMaxAge
// ago, and after the user's last password change, admin reset or
// turning-off of two-factor authentication. Otherwise it returns an error
// matching ErrStepUpRequired, and the host should run StepUp; a store
// failure is returned as such (never as success).
//
// purpose is PurposeStepUp for a sensitive action, or PurposeEnroll before
// adding a factor, which a step-up proof also satisfies. A login proof is
// never accepted: signing in is not a deliberate re-verification. Within
// its max age a proof may guard several actions, the way "sudo mode" does;
// keep StepUpMaxAge short.
func (s *Service) CheckProof(ctx context.Context, proof, userID string, purpose Purpose) error {
	if purpose != PurposeStepUp && purpose != PurposeEnroll {
		return invalidInput("CheckProof purpose must be %q or %q", PurposeStepUp, PurposeEnroll)
	}
	p, err := s.ParseProof(proof)
	if err != nil {
		return err
	}
	if p.UserID != userID {
		return fmt.Errorf("%w: proof is for another user", ErrStepUpRequired)
	}
	if p.Purpose != purpose && !(purpose == PurposeEnroll && p.Purpose == PurposeStepUp) {
		return fmt.Errorf("%w: proof is for %q, not %q", ErrStepUpRequired, p.Purpose, purpose)
	}
	age := s.now().Sub(p.VerifiedAt)
	if age > s.stepUpMaxAge || age < -time.Minute {
		return fmt.Errorf("%w: last verification is %s old, more than %s", ErrStepUpRequired, age.Truncate(time.Second), s.stepUpMaxAge)
	}
	blob, err := s.store.GetState(ctx, keyProofsBefore+userID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil
	case err != nil:
		return fmt.Errorf("twofactor: reading proof revocation: %w", err)
	}
	before, err := strconv.ParseInt(string(blob), 10, 64)
	if err != nil {
		return fmt.Errorf("twofactor: reading proof revocation: %w", err)
	}
	if p.VerifiedAt.UnixMilli() <= before {
		return fmt.Errorf("%w: proof was revoked", ErrStepUpRequired)
	}
	return nil
}

// revokeUser ends everything issued to the user before now that would let
// someone act as them: every pending challenge and enrollment (filed under
// the user in the store) and every proof. It is called when the password
// changes, on an admin reset, and when two-factor authentication is turned
// off.
func (s *Service) revokeUser(ctx context.Context, userID string) error {
	now := s.now()
	// Proofs older than StepUpMaxAge are refused anyway, so the record
	// only needs to outlive the freshest of them (and the clock leeway).
	err := s.store.PutState(ctx, keyProofsBefore+userID, []byte(strconv.FormatInt(now.UnixMilli(), 10)),
		now.Add(s.stepUpMaxAge+2*time.Minute))
	if err != nil {
		return fmt.Errorf("revoking proofs: %w", err)
	}
	if err := s.store.DeleteOwnedStates(ctx, userID); err != nil {
		return fmt.Errorf("ending pending challenges: %w", err)
	}
	return nil
}
