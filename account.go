package twofactor

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strconv"
	"strings"
	"time"
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

const proofDomain = "twofactor proof v1"

// signProof returns "base64url(payload).keyID.base64url(mac)".
func (s *Service) signProof(userID string, p Purpose, m Method, at time.Time) string {
	payload := []byte(strings.Join([]string{userID, string(p), string(m), strconv.FormatInt(at.Unix(), 10)}, "\x00"))
	kid, sig := s.keys.Sign(proofDomain, payload)
	return base64.RawURLEncoding.EncodeToString(payload) + "." + kid + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// A Proof is a parsed, verified step-up proof.
type Proof struct {
	UserID     string
	Purpose    Purpose
	Method     Method
	VerifiedAt time.Time
}

// maxProof bounds proof tokens before any decoding.
const maxProof = 1024

// ParseProof verifies the signature of a proof issued in a Result and
// returns what it states. It does not check freshness; CheckProof does. Any
// malformed or forged proof gives an error matching ErrStepUpRequired.
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
	payload, err1 := b64.DecodeString(enc)
	sig, err2 := b64.DecodeString(encSig)
	if err1 != nil || err2 != nil || !s.keys.Verify(proofDomain, kid, payload, sig) {
		return Proof{}, bad
	}
	parts := strings.Split(string(payload), "\x00")
	if len(parts) != 4 {
		return Proof{}, bad
	}
	sec, err := strconv.ParseInt(parts[3], 10, 64)
	if err != nil {
		return Proof{}, bad
	}
	return Proof{UserID: parts[0], Purpose: Purpose(parts[1]), Method: Method(parts[2]), VerifiedAt: time.Unix(sec, 0)}, nil
}

// CheckProof returns nil when proof was issued by this service for userID no
// longer than Config.StepUpMaxAge ago; otherwise an error matching
// ErrStepUpRequired, and the host should run StepUp. Use it to guard the
// host's own sensitive actions.
func (s *Service) CheckProof(proof, userID string) error {
	p, err := s.ParseProof(proof)
	if err != nil {
		return err
	}
	if p.UserID != userID {
		return fmt.Errorf("%w: proof is for another user", ErrStepUpRequired)
	}
	age := s.now().Sub(p.VerifiedAt)
	if age > s.stepUpMaxAge || age < -time.Minute {
		return fmt.Errorf("%w: last verification is %s old, more than %s", ErrStepUpRequired, age.Truncate(time.Second), s.stepUpMaxAge)
	}
	return nil
}

// Enrollments lists the user's enrolled factors, for an account page, in
// the service's factor order.
func (s *Service) Enrollments(ctx context.Context, user User) ([]Enrollment, error) {
	if err := user.check(); err != nil {
		return nil, err
	}
	var out []Enrollment
	for _, f := range s.factors {
		es, err := f.Enrollments(ctx, user)
		if err != nil {
			return nil, fmt.Errorf("twofactor: listing %s enrollments: %w", f.Method(), err)
		}
		out = append(out, es...)
	}
	return out, nil
}

// RemoveEnrollment removes one enrollment (a TOTP app, a phone, a security
// key) after a fresh verification: proof must come from a Result of this
// user no older than Config.StepUpMaxAge (seed: resetting 2FA requires the
// current code). It returns ErrStepUpRequired without a fresh proof,
// ErrNotEnrolled when there is no such enrollment, and ErrLastFactor when
// Policy.Required and this is the user's last second factor.
func (s *Service) RemoveEnrollment(ctx context.Context, user User, m Method, enrollmentID, proof string) error {
	if err := user.check(); err != nil {
		return err
	}
	if err := s.CheckProof(proof, user.ID); err != nil {
		return err
	}
	f, ok := s.byMethod[m]
	if !ok {
		return ErrMethodNotAllowed
	}
	r, ok := f.(Remover)
	if !ok {
		return fmt.Errorf("%w: %s enrollments cannot be removed", ErrMethodNotAllowed, m)
	}
	es, err := f.Enrollments(ctx, user)
	if err != nil {
		return fmt.Errorf("twofactor: listing %s enrollments: %w", m, err)
	}
	if !slices.ContainsFunc(es, func(e Enrollment) bool { return e.ID == enrollmentID }) {
		return ErrNotEnrolled
	}
	if s.policy.Required && !isRecovery(f) {
		left, err := s.primaryEnrollments(ctx, user)
		if err != nil {
			return err
		}
		if left <= 1 {
			return ErrLastFactor
		}
	}
	if err := r.Remove(ctx, user, enrollmentID); err != nil {
		return fmt.Errorf("twofactor: removing %s enrollment: %w", m, err)
	}
	s.emit(ctx, Event{Type: EventRemove, UserID: user.ID, Method: m, Details: map[string]string{"enrollment": enrollmentID}})
	return nil
}

// primaryEnrollments counts the user's enrollments of allowed factors that
// are not recovery-only.
func (s *Service) primaryEnrollments(ctx context.Context, user User) (int, error) {
	n := 0
	for _, f := range s.factors {
		if !s.allowed(f.Method()) || isRecovery(f) {
			continue
		}
		es, err := f.Enrollments(ctx, user)
		if err != nil {
			return 0, fmt.Errorf("twofactor: listing %s enrollments: %w", f.Method(), err)
		}
		n += len(es)
	}
	return n, nil
}

// AdminReset removes every factor and trusted device of a user and lifts a
// lockout. It is for support staff after they have checked the user's
// identity by other means (seed: lost device). actor names the
// administrator and is required; reason is recorded too. The reset is
// audited with an EventAdminReset.
func (s *Service) AdminReset(ctx context.Context, user User, actor, reason string) error {
	if err := user.check(); err != nil {
		return err
	}
	if strings.TrimSpace(actor) == "" {
		return invalidInput("admin reset needs the administrator's identity (actor)")
	}
	var errs []error
	for _, f := range s.factors {
		if r, ok := f.(Remover); ok {
			if err := r.RemoveAll(ctx, user); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", f.Method(), err))
			}
		}
	}
	if s.trust != nil {
		if err := s.trust.ForgetUser(ctx, user.ID); err != nil {
			errs = append(errs, fmt.Errorf("trusted devices: %w", err))
		}
	}
	if err := s.store.ResetCounter(ctx, keyUserFail+user.ID); err != nil {
		errs = append(errs, fmt.Errorf("lockout: %w", err))
	}
	ev := Event{Type: EventAdminReset, UserID: user.ID, Actor: actor, Details: map[string]string{"reason": reason}}
	if err := errors.Join(errs...); err != nil {
		ev.Reason = ReasonError
		s.emit(ctx, ev)
		return fmt.Errorf("twofactor: admin reset incomplete: %w", err)
	}
	s.emit(ctx, ev)
	return nil
}

// Unlock lifts a user's lockout before its window ends. Audited with actor.
func (s *Service) Unlock(ctx context.Context, userID, actor string) error {
	if strings.TrimSpace(actor) == "" {
		return invalidInput("unlock needs the administrator's identity (actor)")
	}
	if err := s.store.ResetCounter(ctx, keyUserFail+userID); err != nil {
		return fmt.Errorf("twofactor: unlocking: %w", err)
	}
	s.emit(ctx, Event{Type: EventAdminAction, UserID: userID, Actor: actor, Details: map[string]string{"action": "unlock"}})
	return nil
}

// PasswordChanged revokes every trusted device of the user: call it when the
// user's password changes or is reset.
func (s *Service) PasswordChanged(ctx context.Context, userID string) error {
	if s.trust == nil {
		return nil
	}
	if err := s.trust.ForgetUser(ctx, userID); err != nil {
		return fmt.Errorf("twofactor: revoking trusted devices: %w", err)
	}
	s.emit(ctx, Event{Type: EventDeviceRevoked, UserID: userID, Reason: "password_changed"})
	return nil
}

// A PolicyGap is a user who cannot satisfy the policy.
type PolicyGap struct {
	User User
	// NoFactor: the policy requires a second factor and the user has none
	// (backup codes alone do not count).
	NoFactor bool
	// Missing lists mandatory methods the user has not enrolled (for
	// example SMS without a phone number).
	Missing []Method
}

// Check reports the users who cannot satisfy the policy, for an
// administrator about to enforce it (seed: enabling SMS lists the users who
// have no phone number). It stops at the first store error.
func (s *Service) Check(ctx context.Context, users iter.Seq[User]) ([]PolicyGap, error) {
	var gaps []PolicyGap
	for u := range users {
		if err := ctx.Err(); err != nil {
			return gaps, err
		}
		gap := PolicyGap{User: u}
		primary := false
		for _, f := range s.factors {
			m := f.Method()
			if !s.allowed(m) {
				continue
			}
			es, err := f.Enrollments(ctx, u)
			if err != nil {
				return gaps, fmt.Errorf("twofactor: listing %s enrollments of %q: %w", m, u.ID, err)
			}
			if len(es) > 0 && !isRecovery(f) {
				primary = true
			}
			if len(es) == 0 && slices.Contains(s.policy.Mandatory, m) {
				gap.Missing = append(gap.Missing, m)
			}
		}
		gap.NoFactor = s.policy.Required && !primary
		if gap.NoFactor || len(gap.Missing) > 0 {
			gaps = append(gaps, gap)
		}
	}
	return gaps, nil
}
