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

// Proofs are signed under a domain that names their version, so a payload
// signed as one version never reads as another. Version 3 carries what
// the verification assured (RFC 8176 method references, the NIST SP
// 800-63B level, phishing resistance) for step-up requirements; version 2
// proofs, issued before, are still read for the few minutes they live
// (Config.StepUpMaxAge), as assuring nothing: AAL1, no method references,
// not phishing resistant, so they never meet a Requirement that asks for
// more than freshness.
const (
	proofDomain   = "twofactor proof v3"
	proofDomainV2 = "twofactor proof v2"
)

// signProof returns "base64url(payload).keyID.base64url(mac)". The payload
// names the user, the purpose of the challenge that was answered, the
// method, the time in milliseconds, the method references (comma
// separated), "1" when the factor resists phishing ("0" otherwise) and
// the assurance level, separated by NUL bytes; it is signed with the
// version 3 domain.
func (s *Service) signProof(userID string, p Purpose, m Method, at time.Time, amr []string, phr bool, aal int) string {
	var buf [320]byte
	payload := append(buf[:0], userID...)
	payload = append(append(payload, 0), p...)
	payload = append(append(payload, 0), m...)
	payload = strconv.AppendInt(append(payload, 0), at.UnixMilli(), 10)
	payload = append(payload, 0)
	for i, r := range amr {
		if i > 0 {
			payload = append(payload, ',')
		}
		payload = append(payload, r...)
	}
	payload = strconv.AppendBool(append(payload, 0), phr)
	payload = strconv.AppendInt(append(payload, 0), int64(aal), 10)
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
	// Version is the proof's format: 3, or 2 for a proof issued before
	// proofs carried what the verification assured.
	Version int
	// AMR, AAL and PhishingResistant are what the verification assured,
	// as in the Result that issued the proof (none, 0 and false in a
	// version 2 proof).
	AMR               []string
	AAL               int
	PhishingResistant bool
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
	if err1 != nil || err2 != nil {
		return Proof{}, bad
	}
	parts := strings.Split(string(payload), "\x00")
	var p Proof
	switch {
	case len(parts) == 7 && s.keys.Verify(proofDomain, kid, payload, sig):
		p.Version = 3
		phr, err := strconv.ParseBool(parts[5])
		aal, err2 := strconv.Atoi(parts[6])
		if err != nil || err2 != nil || aal < 1 || aal > 3 {
			return Proof{}, bad
		}
		p.PhishingResistant, p.AAL = phr, aal
		if parts[4] != "" {
			p.AMR = strings.Split(parts[4], ",")
		}
	case len(parts) == 4 && s.keys.Verify(proofDomainV2, kid, payload, sig):
		p.Version = 2
	default:
		return Proof{}, bad
	}
	ms, err := strconv.ParseInt(parts[3], 10, 64)
	if err != nil {
		return Proof{}, bad
	}
	p.UserID, p.Purpose, p.Method, p.VerifiedAt = parts[0], Purpose(parts[1]), Method(parts[2]), time.UnixMilli(ms)
	return p, nil
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
	return s.CheckProofFor(ctx, proof, userID, purpose, Requirement{})
}

// CheckProofFor is CheckProof for an action with a [Requirement]: the
// proof must also be no older than req.MaxAge (when shorter than
// Config.StepUpMaxAge), and of a phishing-resistant factor when
// req.PhishingResistant is set. A proof that falls short gives an error
// matching ErrStepUpRequired: run StepUpFor with the same requirement.
func (s *Service) CheckProofFor(ctx context.Context, proof, userID string, purpose Purpose, req Requirement) error {
	if req.MaxAge < 0 {
		return invalidInput("Requirement.MaxAge must not be negative")
	}
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
	maxAge := s.stepUpMaxAge
	if req.MaxAge > 0 {
		maxAge = min(maxAge, req.MaxAge)
	}
	age := s.now().Sub(p.VerifiedAt)
	if age > maxAge || age < -time.Minute {
		return fmt.Errorf("%w: last verification is %s old, more than %s", ErrStepUpRequired, age.Truncate(time.Second), maxAge)
	}
	if req.PhishingResistant && !p.PhishingResistant {
		return fmt.Errorf("%w: a phishing-resistant factor is required, the proof is of %s", ErrStepUpRequired, p.Method)
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
// someone act as them: every pending challenge and proof (they are void
// when begun or issued before the time it records) and every pending
// enrollment (filed under the user in the store). It is called when the
// password changes, on an admin reset, and when two-factor authentication
// is turned off.
func (s *Service) revokeUser(ctx context.Context, userID string) error {
	now := s.now()
	// Proofs older than StepUpMaxAge and challenges older than
	// ChallengeTTL are refused anyway, so the record only needs to
	// outlive the freshest of them (and the clock leeway).
	err := s.store.PutState(ctx, keyProofsBefore+userID, []byte(strconv.FormatInt(now.UnixMilli(), 10)),
		now.Add(max(s.stepUpMaxAge, s.limits.ChallengeTTL)+2*time.Minute))
	if err != nil {
		return fmt.Errorf("revoking proofs: %w", err)
	}
	if err := s.store.DeleteOwnedStates(ctx, userID); err != nil {
		return fmt.Errorf("ending pending enrollments: %w", err)
	}
	return nil
}
