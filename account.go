package twofactor

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strings"

	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/store"
)

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
// key) after a fresh verification: proof must come from the Result of a
// step-up challenge of this user (see CheckProof), so that removing a
// factor needs a current one. It returns ErrStepUpRequired without a fresh proof,
// ErrNotEnrolled when there is no such enrollment, and ErrLastFactor when
// the user's policy is Required and this is their last second factor.
func (s *Service) RemoveEnrollment(ctx context.Context, user User, m Method, enrollmentID, proof string) error {
	ctx, st := s.tel.start(ctx, stepRemove, m)
	err := s.removeEnrollment(ctx, user, m, enrollmentID, proof)
	st.end(ctx, err)
	return err
}

// removeEnrollment is RemoveEnrollment, in its span.
func (s *Service) removeEnrollment(ctx context.Context, user User, m Method, enrollmentID, proof string) error {
	if err := user.check(); err != nil {
		return err
	}
	if err := s.CheckProof(ctx, proof, user.ID, PurposeStepUp); err != nil {
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
	pol, err := s.userPolicy(ctx, user)
	if err != nil {
		return err
	}
	if pol.Required && !isRecovery(f) {
		left, err := s.primaryEnrollments(ctx, user, pol)
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
	ev := event.Event{Type: event.Remove, UserID: user.ID, Method: m, EnrollmentID: enrollmentID}
	if isRecovery(f) {
		s.emit(ctx, ev)
		return nil
	}
	// Backup codes die with the last second factor: left alone they would
	// keep two-factor authentication on with nothing but a fallback.
	left, err := s.primaryEnrollments(ctx, user, pol)
	ev.LastFactor = err == nil && left == 0
	s.emit(ctx, ev)
	if err != nil || left > 0 {
		return err
	}
	for _, rf := range s.factors {
		if r, ok := rf.(Remover); ok && isRecovery(rf) {
			if err := r.RemoveAll(ctx, user); err != nil {
				return fmt.Errorf("twofactor: removing %s with the last factor: %w", rf.Method(), err)
			}
			s.emit(ctx, event.Event{Type: event.Remove, UserID: user.ID, Method: rf.Method(), Reason: event.ReasonLastFactor, LastFactor: true})
		}
	}
	return nil
}

// AdminReset removes every factor and trusted device of a user, ends their
// pending challenges and enrollments, voids their proofs and lifts a
// lockout. It is for support staff after they have checked the user's
// identity by other means (a user who lost their device). actor names the
// administrator and is required; reason is recorded too. The reset is
// audited with an event.AdminReset.
func (s *Service) AdminReset(ctx context.Context, user User, actor, reason string) error {
	ctx, st := s.tel.start(ctx, stepAdminReset, "")
	err := s.adminReset(ctx, user, actor, reason)
	st.end(ctx, err)
	return err
}

// adminReset is AdminReset, in its span.
func (s *Service) adminReset(ctx context.Context, user User, actor, reason string) error {
	if err := user.check(); err != nil {
		return err
	}
	if strings.TrimSpace(actor) == "" {
		return invalidInput("admin reset needs the administrator's identity (actor)")
	}
	err := s.removeEverything(ctx, user)
	if rerr := s.store.ResetCounter(ctx, keyUserFail+user.ID); rerr != nil {
		err = errors.Join(err, fmt.Errorf("lockout: %w", rerr))
	}
	ev := event.Event{Type: event.AdminReset, UserID: user.ID, Actor: actor, LastFactor: true, Details: map[string]string{event.DetailReason: reason}}
	if err != nil {
		ev.Reason = event.ReasonError
		s.emit(ctx, ev)
		return fmt.Errorf("twofactor: admin reset incomplete: %w", err)
	}
	s.emit(ctx, ev)
	return nil
}

// removeEverything ends whatever the user has: pending challenges and
// enrollments, proofs, every enrollment of every factor, trusted devices.
// It goes on past failures and returns them all.
func (s *Service) removeEverything(ctx context.Context, user User) error {
	var errs []error
	if err := s.revokeUser(ctx, user.ID); err != nil {
		errs = append(errs, err)
	}
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
	// Records of factors this Service was not built with (an
	// administration tool builds only what it needs) go too.
	if en, ok := s.store.(store.Enrollments); ok {
		if err := removeRecords(ctx, en, user.ID); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// removeRecords deletes every enrollment record of the user left in st.
func removeRecords(ctx context.Context, st store.Enrollments, userID string) error {
	recs, err := st.ListEnrollments(ctx, userID)
	if err != nil {
		return fmt.Errorf("enrollments: %w", err)
	}
	for _, r := range recs {
		if err := st.DeleteEnrollment(ctx, userID, r.ID); err != nil {
			return fmt.Errorf("enrollment %s: %w", r.ID, err)
		}
	}
	return nil
}

// Unlock lifts a user's lockout, including one that reached
// Limits.MaxConsecutiveFailures. Audited with actor.
func (s *Service) Unlock(ctx context.Context, userID, actor string) error {
	if err := CheckUserID(userID); err != nil {
		return err
	}
	if strings.TrimSpace(actor) == "" {
		return invalidInput("unlock needs the administrator's identity (actor)")
	}
	if err := s.store.ResetCounter(ctx, keyUserFail+userID); err != nil {
		return fmt.Errorf("twofactor: unlocking: %w", err)
	}
	s.emit(ctx, event.Event{Type: event.AdminAction, UserID: userID, Actor: actor, Action: event.ActionUnlock})
	return nil
}

// PasswordChanged is for the host to call when a user's password changes
// or is reset. Whoever knew the old password may have started challenges
// or held proofs, so it ends every pending challenge and enrollment of the
// user, voids their proofs, revokes every trusted device, and lifts a
// lockout (the wrong answers came from someone who had the old password).
func (s *Service) PasswordChanged(ctx context.Context, userID string) error {
	if err := CheckUserID(userID); err != nil {
		return err
	}
	var errs []error
	if err := s.revokeUser(ctx, userID); err != nil {
		errs = append(errs, err)
	}
	if err := s.store.ResetCounter(ctx, keyUserFail+userID); err != nil {
		errs = append(errs, fmt.Errorf("lockout: %w", err))
	}
	if s.trust != nil {
		if err := s.trust.ForgetUser(ctx, userID); err != nil {
			errs = append(errs, fmt.Errorf("trusted devices: %w", err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("twofactor: password change incomplete: %w", err)
	}
	// One event for this fact; the trusted devices' revocations are their
	// own events (one per device, from the DeviceTrust).
	s.emit(ctx, event.Event{Type: event.PasswordChanged, UserID: userID})
	return nil
}

// A PolicyGap is a user who cannot satisfy their policy.
type PolicyGap struct {
	User User
	// Policy names the user's policy in Config.Policies ("" for
	// Config.Policy).
	Policy string
	// Grace is set when the user has no factor but is still within their
	// policy's grace (NoFactor is set too): what is left of it.
	Grace *GraceLeft
	// NoFactor: the policy requires a second factor and the user has none
	// (backup codes alone do not count).
	NoFactor bool
	// Missing lists mandatory methods the user has not enrolled (for
	// example SMS without a phone number).
	Missing []Method
}

// Check reports the users who cannot satisfy their policy (each user's,
// as Config.PolicyFor decides it), for an administrator about to enforce
// it (making SMS mandatory must list the users who have no phone number).
// It stops at the first store error.
func (s *Service) Check(ctx context.Context, users iter.Seq[User]) ([]PolicyGap, error) {
	var gaps []PolicyGap
	for u := range users {
		if err := ctx.Err(); err != nil {
			return gaps, err
		}
		name, pol, err := s.PolicyFor(ctx, u)
		if err != nil {
			return gaps, err
		}
		gap := PolicyGap{User: u, Policy: name}
		primary := false
		for _, f := range s.factors {
			m := f.Method()
			if !pol.allows(m) {
				continue
			}
			es, err := f.Enrollments(ctx, u)
			if err != nil {
				return gaps, fmt.Errorf("twofactor: listing %s enrollments of %q: %w", m, u.ID, err)
			}
			if len(es) > 0 && !isRecovery(f) {
				primary = true
			}
			if len(es) == 0 && slices.Contains(pol.Mandatory, m) {
				gap.Missing = append(gap.Missing, m)
			}
		}
		gap.NoFactor = pol.Required && !primary
		if gap.NoFactor {
			left, ok, err := s.graceLeft(ctx, pol, u.ID, false)
			if err != nil {
				return gaps, err
			}
			if ok {
				gap.Grace = &left
			}
		}
		if gap.NoFactor || len(gap.Missing) > 0 {
			gaps = append(gaps, gap)
		}
	}
	return gaps, nil
}
